import ipaddress

import ray

ray.init(num_cpus=2)
ip = ray.util.get_node_ip_address()
print(type(ip).__name__, ipaddress.ip_address(ip).version)


@ray.remote
def task_ip():
    return ray.util.get_node_ip_address()


print(ray.get(task_ip.remote()) == ip)
ray.shutdown()
