"""What a store is made of (tables, columns, indexes, triggers), to compare two stores' shapes.

It reads each adapter's own catalogue, below the port: the shape is the adapter's business, and
these tests check that an upgraded store and a new one have the same."""

import re


def shape(the_store):
    if the_store.kind == "sqlite":
        return sqlite_shape(the_store)
    return mongo_shape(the_store)


def sqlite_shape(the_store):
    rows = the_store._query("SELECT type, name, tbl_name, sql FROM sqlite_master "
                            "WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")
    found = {}
    for row in rows:
        sql = re.sub(r"\s+", " ", row["sql"] or "").strip()
        found[(row["type"], row["name"])] = (row["tbl_name"], sql)
        if row["type"] == "table":
            columns = the_store._query(f"PRAGMA table_info({row['name']})")
            found[("columns", row["name"])] = [(c["name"], c["type"], c["notnull"], c["pk"])
                                               for c in columns]
    return found


def mongo_shape(the_store):
    found = {}
    for name in sorted(the_store.db.list_collection_names()):
        for index, spec in the_store.db[name].index_information().items():
            found[(name, index)] = {k: v for k, v in spec.items() if k not in ("v", "ns")}
    return found
