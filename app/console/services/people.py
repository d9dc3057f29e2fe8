"""People pages: a person's profile and timeline in one app, the app they live in, the export
and the deletion an admin asks for.

A userId is unique within an app only, so every page names its app. Without one, the apps
that hold the person's profile are looked up (one index read per app; apps are few) and a page
picks the only one, or lets the operator choose.
"""

from ...privacy.access import person_document_chunks, person_timeline
from ...privacy.erasure import get_deletion, request_deletion
from ...sync.people import read_person


def person_apps(store, user_id):
    """The apps with a profile of `user_id`, sorted."""
    return [app_id for app_id in store.queue_app_ids()
            if store.get_people(app_id, [user_id]).get(user_id) is not None]


class TimelineCursorInvalid(ValueError):
    """A timeline cursor the person's page did not hand out."""


def person_view(store, app_id, user_id, before=None, limit=50):
    """A person's profile (None when none is stored), their queue items' count and one page
    of their timeline: {"profile", "entries", "next", "queueItems"}."""
    try:
        timeline = person_timeline(store, app_id, user_id, before=before, limit=limit)
    except ValueError:
        raise TimelineCursorInvalid(before) from None
    return {"profile": read_person(store, app_id, user_id), "entries": timeline["entries"],
            "next": timeline["next"],
            "queueItems": store.count_queue({"appId": app_id, "userId": user_id})}


def export_chunks(store, settings, app_id, user_id):
    """The person's data as pieces of one JSON document (a data-access request)."""
    return person_document_chunks(store, settings, app_id, user_id)


def delete_person(store, settings, app_id, user_id, suppress, username):
    """Ask for the erasure of a person (the erasure service runs it in the background and
    audits it); the deletion's document."""
    return request_deletion(store, settings, app_id, user_id, suppress=suppress,
                            requested_by=f"user:{username}")


def deletion_status(store, app_id, deletion_id):
    """A deletion of the app as the erasure service shows it (no clear id), or None."""
    return get_deletion(store, app_id, deletion_id)
