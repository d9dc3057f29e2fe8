"""flask commands: keys, users, sync and queue (scriptable, no prompt when the input is given)."""

import click
from flask.cli import AppGroup

from .accounts.keys import KeyRequestError, create_key, parse_scopes
from .extensions import store
from .store.common import utcnow

keys = AppGroup("keys", help="Manage API keys.")


@keys.command("create")
@click.option("--app", "app_id", required=True, help="The app the key belongs to.")
@click.option("--scopes", default="ingest", show_default=True,
              help="Comma-separated: ingest, read, admin.")
@click.option("--name", default=None, help="A label to recognise the key by.")
def keys_create(app_id, scopes, name):
    """Make a key; prints it alone on the last line (it is shown only once)."""
    try:
        raw_key, doc = create_key(store.get(), app_id, parse_scopes(scopes), name=name)
    except KeyRequestError as exc:
        raise click.BadParameter(str(exc)) from None
    scopes_text = ",".join(doc["scopes"])
    click.echo(f"Created key {doc['keyId']} for app {app_id} with scopes {scopes_text}.", err=True)
    click.echo(raw_key)


@keys.command("list")
@click.option("--app", "app_id", default=None, help="Only this app's keys.")
def keys_list(app_id):
    """List keys (ids, apps, scopes, state; never the keys themselves)."""
    for doc in store.get().list_api_keys(app_id):
        state = "revoked" if doc.get("revokedAt") else "active"
        click.echo(f"{doc['keyId']}\t{doc['appId']}\t{','.join(doc['scopes'])}\t{state}\t"
                   f"{doc['prefix']}…\t{doc.get('name') or ''}")


@keys.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id):
    """Revoke a key by its id; it stops working at once."""
    if not store.get().revoke_api_key(key_id, utcnow()):
        raise click.ClickException(f"no active key with id {key_id}")
    click.echo(f"Revoked key {key_id}.")


def register(app):
    """Attach every command group to the app."""
    for group in (keys,):
        app.cli.add_command(group)
