"""The order a claimed batch applies in, each client's sequence, and the check that a claimed
item was read back whole."""

import logging
from collections import defaultdict
from datetime import datetime

from .documents import item_time

log = logging.getLogger("prepmate.sync")


def _sort_within_groups(order, group_of, sort_key):
    """Reorder the members of each group among the positions the group already holds."""
    slots = defaultdict(list)
    for position, item in enumerate(order):
        group = group_of(item)
        if group is not None:
            slots[group].append(position)
    for positions in slots.values():
        if len(positions) > 1:
            members = sorted((order[p] for p in positions), key=sort_key)
            for position, member in zip(positions, members, strict=True):
                order[position] = member


def _record_group(item):
    if item["itemType"] == "event":
        return None
    return item["appId"], item["itemType"], item["itemData"].get("recordId")


def _base_version(item):
    base = item["itemData"].get("baseVersion")
    return base if isinstance(base, int) else 0


def client_group(item):
    if item.get("clientId") is None or item.get("seq") is None:
        return None
    return item["appId"], item["clientId"]


def application_order(items):
    """Items in the order they apply: priority then arrival, except that edits of one record
    apply in the order their clients made them, and one client's items in seq order.

    Edits of one record go by baseVersion first: an edit made from version n was made after
    version n existed, whatever the clocks say (two quick saves sent in two batches can get
    skew corrections that swap their times by a few milliseconds).
    """
    order = list(items)
    if any(item["itemType"] != "event" for item in items):
        _sort_within_groups(order, _record_group,
                            lambda i: (_base_version(i), item_time(i), i.get("seq") or 0, i["id"]))
    if any(client_group(item) is not None for item in items):
        _sort_within_groups(order, client_group, lambda i: i["seq"])
    return order


class ClientSequences:
    """The last applied seq of each client seen in a batch, read once and saved once."""

    def __init__(self, store, items, hold):
        self.hold = hold
        clients = defaultdict(set)
        for item in items:
            key = client_group(item)
            if key is not None:
                clients[key[0]].add(key[1])
        # A batch without sequenced items (most of them) skips the checks below.
        self.active = bool(clients)
        self.last = {}
        for app_id, client_ids in clients.items():
            for client_id, seq in store.client_seqs(app_id, client_ids).items():
                self.last[(app_id, client_id)] = seq
        self.changed = defaultdict(dict)

    def check(self, item, now):
        """What the client's sequence says of an item: "apply", "duplicate" or "hold"."""
        key = client_group(item)
        if key is None:
            return "apply"
        last = self.last.get(key)
        if last is None or item["seq"] == last + 1:
            return "apply"
        if item["seq"] <= last:
            return "duplicate"
        if now - item["createdAt"] < self.hold:
            return "hold"
        log.warning("client %s: gave up waiting for seq %d..%d", key[1], last + 1,
                    item["seq"] - 1)
        return "apply"

    def passed(self, item):
        """Note that an item's seq is settled (applied, duplicate, conflict or dead)."""
        key = client_group(item)
        if key is not None and item["seq"] > self.last.get(key, -1):
            self.last[key] = item["seq"]
            self.changed[key[0]][key[1]] = item["seq"]

    def reopen(self, item):
        """Take back passed(item): it failed after all and comes back, so its seq applies then
        (the items after it that applied in this batch stay applied)."""
        key = client_group(item)
        if key is not None and item["seq"] <= self.last.get(key, -1):
            self.last[key] = item["seq"] - 1
            self.changed[key[0]][key[1]] = item["seq"] - 1

    def save(self, store):
        """Store the clients' new last seqs (inside the batch's unit)."""
        for app_id, seqs in self.changed.items():
            store.save_client_seqs(app_id, seqs)


def check_readable(item):
    """Raise unless a claimed item could be read back whole: the fields that ordering and
    sequencing read are read before its own error handling, so they are checked first."""
    if item.get("unreadable") is not None:
        raise item["unreadable"]
    if item.get("seq") is not None and not isinstance(item["seq"], int):
        raise ValueError(f"its seq {item['seq']!r} is not an integer")
    _check_time(item["createdAt"])
    if item["itemType"] != "event":
        if not isinstance(item.get("itemData"), dict):
            raise ValueError("its itemData is not an object")
        _check_time(item_time(item))


def _check_time(value):
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{value!r} is not a time with its UTC offset")

