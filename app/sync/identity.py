"""Identity items: identify, alias and group, as the sync engine applies them."""

# Queue item types of the identity verbs (page and screen are queued as events).
IDENTITY_ITEM_TYPES = frozenset({"identify", "alias", "group"})


def is_identity_item(item):
    """An identify, alias or group item. A record item always has a recordId, so a record edit
    of such a type queued before these were verbs keeps its meaning."""
    return item["itemType"] in IDENTITY_ITEM_TYPES and item.get("recordId") is None


def apply_identity(store, item, now, outcome):
    """Apply one identity item (people profiles are written by the next step of this work)."""
    outcome.applied(item)
