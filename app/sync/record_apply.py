"""Record items: an edit at the server's version applies, an older one is settled by its
conflict strategy (conflicts.py), a newer one can never apply."""

from .conflicts import choose_strategy, record_conflict
from .documents import item_time, write_version
from .merge import same, three_way_merge
from .settings import PermanentError


def _server_clock(store, record):
    """(time, itemId) of the write that made a record's current version, for last-write-wins."""
    version = store.get_record_version(record["appId"], record["recordType"],
                                       record["recordId"], record["version"])
    item_id = (version or {}).get("itemId")
    writer = store.get_queue_item(record["appId"], item_id) if item_id else None
    if writer is not None:
        return item_time(writer), item_id
    return record["updatedAt"], item_id or ""


def apply_record(store, config, item, now, outcome):
    """Apply one record edit: at the server's version it applies, else its strategy decides."""
    data = item["itemData"]
    key = (item["appId"], item["itemType"], data["recordId"])
    if not isinstance(data.get("data"), dict) or not isinstance(data.get("baseVersion"), int):
        raise PermanentError("a record item needs `data` (an object) and `baseVersion`")
    if store.version_written_by(item["appId"], item["itemId"]) is not None:
        outcome.duplicate(item)  # applied by a run that crashed before marking it done
        return
    current = store.get_record(*key)
    server_version = current["version"] if current else 0
    base_version = data["baseVersion"]
    client = data["data"]
    user = item.get("userId")
    if base_version > server_version:
        raise PermanentError(f"baseVersion {base_version} is ahead of the server's version "
                             f"{server_version} of {key[1]} {key[2]}")
    if base_version == server_version:
        write_version(store, key, current, client, now, user, user, item["itemId"])
        outcome.applied(item)
        return
    server = current["data"]
    if same(client, server):
        # Another device already made this very edit: nothing to decide, nothing to keep twice.
        outcome.duplicate(item)
        return
    strategy = choose_strategy(config.settings, key[1], item.get("conflictResolution"))
    base_doc = store.get_record_version(*key, base_version) if base_version else None
    base = base_doc["data"] if base_doc else {}
    if strategy == "last_write_wins":
        client_clock = (item_time(item), item["itemId"])
        strategy_choice = "client" if client_clock > _server_clock(store, current) else "server"
        settled = {"client": client, "server": server}[strategy_choice]
    elif strategy == "client_wins":
        strategy_choice, settled = "client", client
    elif strategy == "server_wins":
        strategy_choice, settled = "server", server
    elif strategy == "merge":
        merged, clashes = three_way_merge(base, server, client)
        strategy_choice, settled = ("merged", merged) if not clashes else (None, None)
    else:
        strategy_choice, settled = None, None
    conflict = store.add_conflict(
        record_conflict(item, strategy, base, server, client, now, resolution=strategy_choice))
    if strategy_choice is None:
        outcome.conflict(item, f"conflict {conflict['id']} waits for a manual resolution")
        return
    version = current["version"]
    if not same(settled, server):
        version = write_version(store, key, current, settled, now, user, user,
                                item["itemId"])["version"]
    outcome.applied(item)
    outcome.audits.append((f"sync:{strategy}", "conflict.resolve", f"conflict:{conflict['id']}",
                           {"appId": key[0], "kind": "record", "itemId": item["itemId"],
                            "recordType": key[1], "recordId": key[2],
                            "resolution": strategy_choice, "version": version}))

