"""flask commands: keys, users, sync, queue, store and people (scriptable, no prompt when the
input is given)."""

import json
import os
import secrets
import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from .accounts.keys import (
    KeyRequestError,
    authenticate,
    create_key,
    key_state,
    parse_scopes,
    revoke_key,
)
from .accounts.users import ROLES, UserError, create_user, set_password, set_role
from .extensions import store
from .privacy import erasure
from .privacy.access import person_document_chunks, person_known
from .store import StoreUnavailable
from .store.common import QUEUE_STATES, utcnow
from .store.errors import BackupInvalid, StoreInUse
from .store.port import BackupToFile, RestoreFromFile
from .store.schema import LATEST, SchemaMismatch, UpgradeNeeded, describe
from .sync.outcomes import summarize_run
from .sync.scheduling import run_exclusive


class Commands(AppGroup):
    """A command group whose commands end with the store's own message (exit status 1) when the
    store cannot be opened: down, or at another schema version than this release's."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (SchemaMismatch, StoreUnavailable) as exc:
            raise click.ClickException(str(exc)) from None


keys = Commands("keys", help="Manage API keys.")


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
    """List keys (ids, apps, scopes, state, prefix, name, last use to the minute; never the
    keys themselves). A state is active, revoked, or "stops <time>" for a rotated key still
    running out."""
    now = utcnow()
    for doc in store.get().list_api_keys(app_id):
        state = key_state(doc, now)
        if state == "expiring":
            state = f"stops {doc['revokedAt']:%Y-%m-%dT%H:%MZ}"
        last_used = doc.get("lastUsedAt")
        last_used = last_used.strftime("%Y-%m-%dT%H:%MZ") if last_used else "never used"
        click.echo(f"{doc['keyId']}\t{doc['appId']}\t{','.join(doc['scopes'])}\t{state}\t"
                   f"{doc['prefix']}…\t{doc.get('name') or ''}\t{last_used}")


@keys.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id):
    """Revoke a key by its id (a rotated one still running out too); it stops working at
    once. Audited, as the console's revocations are."""
    try:
        revoke_key(store.get(), key_id, CLI_ACTOR)
    except KeyRequestError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Revoked key {key_id}.")


dev = Commands("dev", help="Development helpers.")
DEV_USER = "dev-admin"


@dev.command("credentials")
def dev_credentials():
    """Make (once) and print a dev API key and console login; development profile only.

    They are kept in instance/dev-credentials.json (readable by the owner only), so each start
    prints the same ones.
    """
    from .accounts.users import authenticate as check_login

    if current_app.config["APP_ENV"] != "development":
        raise click.ClickException("dev credentials exist only with APP_ENV=development")
    path = Path(current_app.instance_path) / "dev-credentials.json"
    creds = json.loads(path.read_text()) if path.exists() else {}
    the_store = store.get()
    if authenticate(the_store, creds.get("apiKey")) is None:
        creds["apiKey"], _doc = create_key(the_store, "dev", ["ingest", "read", "admin"],
                                           name="dev")
    if check_login(the_store, DEV_USER, creds.get("password")) is None:
        creds["password"] = secrets.token_urlsafe(12)
        if the_store.get_user(DEV_USER) is None:
            create_user(the_store, DEV_USER, "admin", creds["password"])
        else:
            set_password(the_store, DEV_USER, creds["password"], CLI_ACTOR)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(creds))
    os.chmod(path, 0o600)
    click.echo(f"Dev API key ........ {creds['apiKey']}")
    click.echo(f"Dev console login .. {DEV_USER} / {creds['password']}  (/console/login)")


users = Commands("users", help="Manage console users.")
# Who the audit log names for changes made from the command line.
CLI_ACTOR = "cli"


def _password(password_stdin):
    """The password from the first line of stdin, or prompted for twice."""
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@users.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default="viewer", show_default=True,
              help="admin and operator act; viewer only looks.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input (no prompt).")
def users_create(username, role, password_stdin):
    """Make a console user; the password is read from stdin or prompted for."""
    try:
        create_user(store.get(), username, role, _password(password_stdin))
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created {role} {username}.")


@users.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input (no prompt).")
def users_set_password(username, password_stdin):
    """Give a user a new password (stdin or prompt); every session of theirs ends."""
    try:
        set_password(store.get(), username, _password(password_stdin), CLI_ACTOR)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Changed the password of {username}; their sessions have ended.")


@users.command("set-role")
@click.argument("username")
@click.argument("role", type=click.Choice(ROLES))
def users_set_role(username, role):
    """Give a user another role; every session of theirs ends."""
    try:
        set_role(store.get(), username, role, CLI_ACTOR)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{username} is now {role}; their sessions have ended.")


@users.command("list")
def users_list():
    """List console users and their roles."""
    for doc in store.get().list_users():
        last = doc.get("lastLoginAt")
        click.echo(f"{doc['username']}\t{doc['role']}\t{last.isoformat() if last else 'never'}")


sync = Commands("sync", help="Run the sync engine.")
queue = Commands("queue", help="Inspect the sync queue.")


@sync.command("run")
def sync_run():
    """Apply every due queue item now and print the run's BatchLog summary."""
    logs = run_exclusive(current_app._get_current_object(), "manual", requested_by="cli")
    if logs is None:
        raise click.ClickException("a sync is already running; try again when it has finished")
    summary = summarize_run(logs)
    for log in summary["batches"]:
        click.echo(f"batch {log['batchId']}: {log['status']}, {log['itemCount']} items, "
                   f"{log['successCount']} applied, {log['duplicateCount']} duplicates, "
                   f"{log['conflictCount']} conflicts, {log['failureCount']} failed")
    for error in summary["errors"]:
        click.echo(f"  {error['status']} {error['appId']}/{error['itemId']}: {error['reason']}")
    click.echo(f"sync {summary['status']}: {summary['itemCount']} items in "
               f"{len(summary['batches'])} batches, {summary['successCount']} applied, "
               f"{summary['duplicateCount']} duplicates, {summary['conflictCount']} conflicts, "
               f"{summary['failureCount']} failed")


@queue.command("stats")
@click.option("--app", "app_id", default=None, help="Only this app's items.")
def queue_stats(app_id):
    """Print the number of queue items in each state."""
    counts = store.get().queue_counts(app_id=app_id)
    for state in QUEUE_STATES:
        click.echo(f"{state}\t{counts.get(state, 0)}")
    click.echo(f"total\t{sum(counts.values())}")


stored = Commands("store", help="See, upgrade, check, back up and restore the store.")


def _store_line(state):
    where = (f"SQLite file {current_app.config['SQLITE_PATH']}"
             if not current_app.config.get("MONGODB_URI") else "MongoDB")
    return (f"Store: {where}, at {describe(state['version'])}; release {state['release']} runs "
            f"on version {state['latest']}.")


@stored.command("status")
def store_status():
    """Print the store's schema version, the upgrade steps taken and those still to take."""
    state = store.schema_state()
    click.echo(_store_line(state))
    for step in state["history"]:
        click.echo(f"  applied {step['version']}: {step['name']} (release {step['release']}, "
                   f"{step['appliedAt'].isoformat(timespec='seconds')})")
    for step in state["pending"]:
        click.echo(f"  to take {step['version']}: {step['name']}")
    if state["version"] is not None and state["version"] > state["latest"]:
        raise click.ClickException("the store is newer than this release: run a newer release")


@stored.command("upgrade")
def store_upgrade():
    """Take every upgrade step the store still needs, printing each; safe to run again."""
    state = store.schema_state()
    click.echo(_store_line(state))
    done = store.upgrade()
    for step in done:
        click.echo(f"  applied {step['version']}: {step['name']}")
    if done:
        click.echo(f"Upgraded to schema version {done[-1]['version']}.")
    else:
        click.echo("Nothing to do: the store is at the latest version.")


# What the checks of `store check` are, per kind of store.
CHECKS = {"sqlite": "SQLite's integrity_check and foreign_key_check",
          "mongodb": "every index this release makes is present"}
# The answer of `store backup` and `store restore` on MongoDB.
MONGO_BACKUPS = (
    "The store is MongoDB: back it up and restore it with MongoDB's own tools, not this "
    "command. For one consistent instant across every collection, dump the whole replica set "
    "with `mongodump --oplog` and restore with `mongorestore --drop --oplogReplay`, take a "
    "filesystem or cloud snapshot of the data volume (journal included), or dump with every "
    "server stopped. Restore with every server stopped, then run `flask --app wsgi people "
    "reapply-erasures` (a server also does at start). See the README, \"Backups and restore\".")


def _capability(the_store, kind):
    found = the_store.capability(kind)
    if found is None:
        raise click.ClickException(MONGO_BACKUPS)
    return found


@stored.command("check")
def store_check():
    """Run the store's integrity checks and print what it holds; exit status 1 when a check
    finds a problem."""
    the_store = store.get()
    click.echo(_store_line(store.schema_state()))
    counts = the_store.collection_counts()
    queue_states = the_store.queue_counts()
    conflicts = the_store.conflict_counts()
    click.echo(f"events\t{counts.get('telemetry', 0)}")
    click.echo("queue\t" + ", ".join(f"{state} {queue_states.get(state, 0)}"
                                     for state in QUEUE_STATES)
               + f" (total {sum(queue_states.values())})")
    click.echo(f"batch logs\t{counts.get('batch_logs', 0)}")
    click.echo(f"records\t{counts.get('records', 0)} ({counts.get('record_versions', 0)} "
               "versions)")
    click.echo("conflicts\t" + ", ".join(f"{status} {conflicts.get(status, 0)}"
                                         for status in ("open", "resolved")))
    click.echo(f"people\t{counts.get('people', 0)}")
    click.echo("every table: " + ", ".join(f"{name} {n}" for name, n in counts.items()))
    problems = the_store.integrity_problems()
    for problem in problems:
        click.echo(f"problem: {problem}", err=True)
    if problems:
        raise click.ClickException(f"the check found {len(problems)} problem(s) "
                                   f"({CHECKS.get(the_store.kind, the_store.kind)})")
    click.echo(f"Check passed: {CHECKS.get(the_store.kind, the_store.kind)}.")


@stored.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace PATH when it exists (refused otherwise).")
def store_backup(path, force):
    """Copy the SQLite store, as it is at one instant, to PATH while the service runs and
    writes; the copy is one standalone file. A store that needs an upgrade is copied as it is
    (back it up before `store upgrade`)."""
    backup = _capability(store.unopened(), BackupToFile)
    bar = None

    def progress(done, total):
        nonlocal bar
        if bar is None:
            bar = click.progressbar(length=max(total, 1), label="Backing up",
                                    file=sys.stderr)
            bar.__enter__()
        bar.update(done - bar.pos)

    try:
        done = backup(str(path), overwrite=force, progress=progress)
    except FileExistsError:
        raise click.ClickException(f"{path} exists: choose another name, or pass --force to "
                                   "replace it") from None
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    click.echo(f"Backed up the store to {done['path']} ({done['bytes']} bytes in "
               f"{done['seconds']:.1f} s): a standalone file, consistent as of the moment the "
               "backup began. Restore it with `flask --app wsgi store restore PATH`.")


@stored.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def store_restore(path):
    """Put the backup at PATH in place of the SQLite store (refused while any process has the
    store open), upgrade it like any older store, and erase again the people the erasure
    ledger lists."""
    restore = _capability(store.unopened(), RestoreFromFile)
    try:
        done = restore(str(path), max_version=LATEST)
    except (BackupInvalid, StoreInUse) as exc:
        raise click.ClickException(f"nothing was restored: {exc}") from None
    store.forget()
    click.echo(f"Restored {done['path']} ({describe(done['schemaVersion'])}) in place of "
               f"the store; its stale -wal and -shm files are removed.")
    try:
        store.get()
    except UpgradeNeeded:
        raise click.ClickException(
            f"the restored store is at {describe(done['schemaVersion'])}, and "
            "STORE_AUTO_UPGRADE is off: run `flask --app wsgi store upgrade`, then `flask "
            "--app wsgi people reapply-erasures` (a server also re-applies them at start)"
        ) from None
    if done["schemaVersion"] != LATEST:
        click.echo(f"Upgraded it to schema version {LATEST}, as any older store.")
    click.echo("Re-applying the erasures of the erasure ledger "
               f"({erasure.ledger_path(current_app.config)}):")
    _reapply_erasures()


people = Commands("people", help="Give a person's data back, or erase it.")

# people export (access), people delete (erasure), people unsuppress (suppression): below,
# each under its own heading.

# --- people export ---


@people.command("export")
@click.argument("user_id")
@click.option("--app", "app_id", required=True, help="The app the person belongs to.")
@click.option("--output", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Write the document to this file (default: standard output).")
def people_export(user_id, app_id, output):
    """Write everything APP holds of USER_ID as one JSON document (a data-access request)."""
    the_store = store.get()
    if not person_known(the_store, app_id, user_id):
        raise click.ClickException(f"No person {user_id!r} in app {app_id}.")
    chunks = person_document_chunks(the_store, current_app.config, app_id, user_id)
    if output is None:
        for chunk in chunks:
            click.echo(chunk, nl=False)
        click.echo()
        return
    partial = output.with_name(output.name + ".partial")
    with partial.open("w", encoding="utf-8") as out:
        for chunk in chunks:
            out.write(chunk)
        out.write("\n")
    partial.replace(output)
    click.echo(f"Wrote the data of {user_id!r} in app {app_id} to {output}.", err=True)

# --- people delete ---

def _deletion_line(deletion):
    counts = ", ".join(f"{phase} {n}" for phase, n in deletion["counts"].items()) or "nothing"
    return f"deletion {deletion['deletionId']}: {deletion['status']} ({counts})"


def _erase_to_the_end(deletion_id, wait_seconds=60.0):
    """Run one deletion to its end here, retrying its checkpoint while readers hold it."""
    the_store, settings = store.get(), current_app.config
    deadline = time.monotonic() + wait_seconds
    while True:
        advanced = erasure.run_deletions(the_store, settings, budget=wait_seconds,
                                         only=deletion_id)
        found = erasure.public(the_store.get_deletion(deletion_id))
        if found["status"] == "done" or time.monotonic() >= deadline:
            return found
        if not advanced:
            click.echo(f"deletion {deletion_id} is being run by another process; waiting")
        time.sleep(0.5)


@people.command("delete")
@click.argument("user_id")
@click.option("--app", "app_id", required=True, help="The app the person belongs to.")
@click.option("--suppress", is_flag=True,
              help="Also refuse the person's future items (answered `suppressed`).")
def people_delete(user_id, app_id, suppress):
    """Erase every trace of a person in an app now, and print what was erased."""
    deletion = erasure.request_deletion(store.get(), current_app.config, app_id, user_id,
                                        suppress=suppress, requested_by=CLI_ACTOR)
    found = _erase_to_the_end(deletion["deletionId"])
    click.echo(_deletion_line(found))
    if found["status"] != "done":
        raise click.ClickException(
            "the rows are erased, but the store's checkpoint still waits for readers: the "
            "scheduler finishes the deletion, or run this command again")


@people.command("reapply-erasures")
def people_reapply_erasures():
    """Erase again the people of the erasure ledger that the store does not record (after a
    restore from a backup), and print each."""
    _reapply_erasures()


def _reapply_erasures():
    try:
        made = erasure.reapply_erasures(store.get(), current_app.config)
    except erasure.ErasureLedgerError as exc:
        raise click.ClickException(str(exc)) from None
    if not made:
        click.echo("Nothing to re-apply: the store records every erasure of the ledger "
                   f"({erasure.ledger_path(current_app.config)}).")
    for deletion in made:
        click.echo(f"re-applying erasure {deletion['deletionId']}")
        click.echo(_deletion_line(_erase_to_the_end(deletion["deletionId"])))

# --- people unsuppress ---


@people.command("unsuppress")
@click.argument("user_id")
@click.option("--app", "app_id", required=True, help="The app the person belongs to.")
def people_unsuppress(user_id, app_id):
    """Lift a person's suppression: their items are taken again (audited, with the id's hash)."""
    from .privacy.suppression import lift

    if lift(store.get(), current_app.config, app_id, user_id, actor=CLI_ACTOR):
        click.echo(f"Lifted the suppression in app {app_id}: the person's items are taken again.")
    else:
        click.echo(f"The person was not suppressed in app {app_id}; nothing changed.")


def register(app):
    """Attach every command group to the app."""
    for group in (keys, dev, users, sync, queue, stored, people):
        app.cli.add_command(group)
