import ray

ray.init(num_cpus=2)


class Animal:
    def __init__(self, name):
        self.name = name

    def speak(self):
        return f"{self.name} makes a sound"

    def describe(self):
        return f"{type(self).__name__}: {self.speak()}"


@ray.remote
class Dog(Animal):
    def speak(self):
        return f"{self.name} barks; " + super().speak()


d = Dog.remote("rex")
print(ray.get(d.speak.remote()))
print(ray.get(d.describe.remote()))
RemoteAnimal = ray.remote(Animal)
print(ray.get(RemoteAnimal.remote("generic").describe.remote()))
ray.shutdown()
