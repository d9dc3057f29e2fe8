"""What a forked child must not share with its parent: the adapter's objects that hold a thread
or a lock register here, and in a forked child each live one forgets the parent's state."""

import os
import weakref


def forked_child_registry():
    """A WeakSet whose members' `_forked()` runs in every forked child of this process."""
    instances = weakref.WeakSet()

    def after_fork():
        for instance in list(instances):
            instance._forked()

    if hasattr(os, "register_at_fork"):  # POSIX; elsewhere nothing forks a running store
        os.register_at_fork(after_in_child=after_fork)
    return instances
