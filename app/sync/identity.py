"""Identity items: identify, alias and group, as the sync engine applies them."""

from .documents import item_time
from .people import VERBS
from .settings import PermanentError

# Queue item types of the identity verbs (page and screen are queued as events).
IDENTITY_ITEM_TYPES = frozenset({"identify", "alias", "group"})


def is_identity_item(item):
    """An identify, alias or group item. A record item always has a recordId, so a record edit
    of such a type queued before these were verbs keeps its meaning."""
    return item["itemType"] in IDENTITY_ITEM_TYPES and item.get("recordId") is None


def apply_identity(store, item, now, outcome):
    """Apply one identity item to the people it names (people.py), as of its time."""
    data = item["itemData"]
    if not isinstance(data, dict) or not _well_formed(item["itemType"], data):
        raise PermanentError(f"a {item['itemType']} item lacks the ids it needs")
    VERBS[item["itemType"]](store, item["appId"], data, item_time(item))
    outcome.applied(item)


def _well_formed(item_type, data):
    if item_type == "alias":
        return isinstance(data.get("previousId"), str) and isinstance(data.get("userId"), str)
    ids = (data.get("userId"), data.get("anonymousId"))
    if not any(isinstance(i, str) for i in ids):
        return False
    return item_type != "group" or isinstance(data.get("groupId"), str)
