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
    assert runner.invoke(args=["keys", "list"]).output.rstrip().endswith("never used")
    assert client.get("/api/telemetry/status", headers=headers).status_code == 200

    listed = runner.invoke(args=["keys", "list"])
    assert doc["keyId"] in listed.output and raw not in listed.output
    last_used = store.find_api_key(hash_key(raw))["lastUsedAt"]
    assert listed.output.rstrip().endswith(last_used.strftime("%Y-%m-%dT%H:%MZ"))
    # Within the minute, further calls write nothing more.
    assert client.get("/api/telemetry/status", headers=headers).status_code == 200
    assert store.find_api_key(hash_key(raw))["lastUsedAt"] == last_used

    revoked = runner.invoke(args=["keys", "revoke", doc["keyId"]])
    assert revoked.exit_code == 0
    assert client.get("/api/telemetry/status", headers=headers).status_code == 401
    assert runner.invoke(args=["keys", "revoke", doc["keyId"]]).exit_code != 0


def test_keys_create_refuses_unknown_scopes(runner, store):
    result = runner.invoke(args=["keys", "create", "--app", "quiz", "--scopes", "everything"])
    assert result.exit_code != 0
    assert "scopes" in result.output
    assert store.list_api_keys() == []


def test_dev_credentials_are_made_once_and_work(tmp_path, store_kind):
    from tests.conftest import close_app, make_app

    app = make_app(tmp_path, store_kind, APP_ENV="development",
                   INSTANCE_PATH=str(tmp_path / "instance"))
    runner = app.test_cli_runner()
    first = runner.invoke(args=["dev", "credentials"])
    assert first.exit_code == 0, first.output
    assert runner.invoke(args=["dev", "credentials"]).output == first.output
    key = first.output.split("Dev API key ........ ")[1].split()[0]
    login = first.output.split("Dev console login .. ")[1].split()
    username, password = login[0], login[2]
    client = app.test_client()
    status = client.get("/api/telemetry/status", headers={"Authorization": f"Bearer {key}"})
    assert status.status_code == 200
    from app.accounts.users import authenticate
    from app.extensions import store

    assert authenticate(store.get(app), username, password) is not None
    assert (tmp_path / "instance" / "dev-credentials.json").stat().st_mode & 0o077 == 0
    close_app(app)


def test_dev_credentials_refuse_other_profiles(runner):
    result = runner.invoke(args=["dev", "credentials"])
    assert result.exit_code != 0
    assert "development" in result.output


def test_keys_list_shows_a_rotated_key_running_out_and_revoke_stops_it_now(runner, store,
                                                                           client):
    from datetime import timedelta

    from app.accounts.keys import create_key
    from app.store.common import utcnow

    raw, doc = create_key(store, "quiz", ["ingest"])
    stops = utcnow() + timedelta(hours=3)
    store.revoke_api_key(doc["keyId"], stops)  # as a rotation leaves the old key
    headers = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/telemetry/status", headers=headers).status_code == 403  # it works
    listed = runner.invoke(args=["keys", "list"]).output
    assert f"\tstops {stops:%Y-%m-%dT%H:%MZ}\t" in listed
    revoked = runner.invoke(args=["keys", "revoke", doc["keyId"]])
    assert revoked.exit_code == 0, revoked.output
    assert client.get("/api/telemetry/status", headers=headers).status_code == 401
    assert "\trevoked\t" in runner.invoke(args=["keys", "list"]).output
    [entry] = store.list_audit(limit=5)
    assert (entry["actor"], entry["action"], entry["target"]) == ("cli", "key.revoke",
                                                                  f"key:{doc['keyId']}")
    again = runner.invoke(args=["keys", "revoke", doc["keyId"]])
    assert again.exit_code != 0 and f"no working key with id {doc['keyId']}" in again.output
