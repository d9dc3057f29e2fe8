"""flask commands for keys: create prints the key alone on its last line; list; revoke."""

from app.accounts.keys import hash_key


def test_keys_create_list_revoke(runner, store, client):
    result = runner.invoke(args=["keys", "create", "--app", "quiz", "--scopes", "ingest,read"])
    assert result.exit_code == 0, result.output
    raw = result.output.strip().splitlines()[-1]
    assert raw.startswith("pm_")
    doc = store.find_api_key(hash_key(raw))
    assert doc["appId"] == "quiz" and doc["scopes"] == ["ingest", "read"]
    headers = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/telemetry/status", headers=headers).status_code == 200

    listed = runner.invoke(args=["keys", "list"])
    assert doc["keyId"] in listed.output and raw not in listed.output

    revoked = runner.invoke(args=["keys", "revoke", doc["keyId"]])
    assert revoked.exit_code == 0
    assert client.get("/api/telemetry/status", headers=headers).status_code == 401
    assert runner.invoke(args=["keys", "revoke", doc["keyId"]]).exit_code != 0


def test_keys_create_refuses_unknown_scopes(runner, store):
    result = runner.invoke(args=["keys", "create", "--app", "quiz", "--scopes", "everything"])
    assert result.exit_code != 0
    assert "scopes" in result.output
    assert store.list_api_keys() == []
