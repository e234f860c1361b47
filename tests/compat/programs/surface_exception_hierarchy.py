from ray import exceptions as ex

pairs = [
    ("RayTaskError", "RayError"),
    ("RayActorError", "RayError"),
    ("ActorDiedError", "RayActorError"),
    ("TaskCancelledError", "RayError"),
    ("WorkerCrashedError", "RayError"),
    ("GetTimeoutError", "RayError"),
    ("ObjectLostError", "RayError"),
    ("OwnerDiedError", "ObjectLostError"),
    ("ObjectStoreFullError", "RayError"),
    ("RaySystemError", "RayError"),
    ("PendingCallsLimitExceeded", "RayError"),
    ("TaskUnschedulableError", "RayError"),
    ("ActorUnschedulableError", "RayError"),
    ("RuntimeEnvSetupError", "RayError"),
    ("OutOfMemoryError", "RayError"),
    ("ActorUnavailableError", "RayActorError"),
]
for child, parent in pairs:
    c, p = getattr(ex, child, None), getattr(ex, parent, None)
    print(child, parent, None if c is None or p is None else issubclass(c, p))
print(issubclass(ex.GetTimeoutError, TimeoutError))
print(issubclass(ex.RayError, Exception))
print(issubclass(ex.TaskCancelledError, ex.RayTaskError) if hasattr(ex, "TaskCancelledError") else None)
