"""Console sessions end for good: sign-out, a password change and a role change end every session
of that user, copied cookies included; sessions from before epochs existed stay valid."""

import pytest

from app.accounts.users import authenticate

from .conftest import PASSWORD, Console

pytestmark = pytest.mark.both_stores

NEW_PASSWORD = "a brand new passphrase"


def copy_of(app, session):
    """Another browser holding a copy of `session`'s cookie."""
    thief = app.test_client()
    thief.set_cookie("session", session.client.get_cookie("session").value)
    return thief


def signed_in(client):
    return client.get("/console/queue").status_code == 200


def test_a_copied_session_cookie_stops_working_at_sign_out(app, console):
    operator = console("operator")
    thief = copy_of(app, operator)
    assert signed_in(thief)
    assert operator.post("/console/logout").status_code == 303
    assert not signed_in(operator.client)
    refused = thief.get("/console/queue")
    assert refused.status_code == 302 and "/console/login" in refused.headers["Location"]
    # The refused cookie is not revived by anything the old session carried.
    assert not signed_in(thief)


def test_signing_out_ends_the_users_other_sessions_but_not_other_users(console):
    laptop, phone, admin = console("operator"), console("operator"), console("admin")
    laptop.post("/console/logout")
    assert not signed_in(phone.client)
    assert signed_in(admin.client)
    again = console("operator")
    assert signed_in(again.client)


def test_a_password_change_ends_sessions_and_only_the_new_password_signs_in(
        app, console, runner, store):
    operator = console("operator")
    result = runner.invoke(args=["users", "set-password", "operator", "--password-stdin"],
                           input=f"{NEW_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "sessions have ended" in result.output
    assert not signed_in(operator.client)
    assert Console(app.test_client()).login("operator", PASSWORD).status_code == 401
    assert Console(app.test_client()).login("operator", NEW_PASSWORD).status_code == 303
    entry = store.list_audit(limit=5)
    assert any(e["action"] == "user.set_password" and e["target"] == "user:operator"
               for e in entry)


def test_a_role_change_ends_sessions_and_the_new_role_applies(app, console, runner, store):
    admin = console("admin")
    result = runner.invoke(args=["users", "set-role", "admin", "viewer"])
    assert result.exit_code == 0, result.output
    assert not signed_in(admin.client)
    viewer = console("admin")
    assert "Read-only" in viewer.get("/console/").get_data(as_text=True)
    assert viewer.post("/console/sync").status_code == 403
    [entry] = [e for e in store.list_audit(limit=10) if e["action"] == "user.set_role"]
    assert entry["details"] == {"previousRole": "admin", "role": "viewer"}


def test_user_changes_that_cannot_apply_change_nothing(console, runner, store):
    operator = console("operator")
    for args, stdin, message in (
            (["set-password", "nobody", "--password-stdin"], NEW_PASSWORD, "no user named"),
            (["set-password", "operator", "--password-stdin"], "short", "at least 8"),
            (["set-role", "nobody", "admin"], "", "no user named 'nobody'"),
            (["set-role", "operator", "root"], "", "'root' is not one of")):
        result = runner.invoke(args=["users", *args], input=f"{stdin}\n")
        assert result.exit_code != 0 and message in result.output, args
    assert signed_in(operator.client)
    assert store.get_user("operator")["role"] == "operator"
    assert authenticate(store, "operator", PASSWORD) is not None


def test_sessions_and_users_from_before_epochs_stay_signed_in(console):
    operator = console("operator")
    with operator.client.session_transaction() as cookie:
        del cookie["epoch"]  # a cookie the previous release signed
    assert signed_in(operator.client)
