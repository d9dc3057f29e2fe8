"""What the people rules ask of a store: profiles, the identity map, groups, and the event counts
the sync engine adds to them (app/sync/people.py holds the rules)."""

from collections.abc import Iterable
from typing import Any, Protocol

Doc = dict[str, Any]


class PeoplePort(Protocol):
    """Profiles (appId, userId), identity-map rows (appId, anonymousId) and groups (appId,
    groupId). Writes are meant for the sync engine's unit_of_work()."""

    def get_people(self, app_id: str, user_ids: Iterable[str]) -> dict[str, Doc]:
        """The stored profiles among `user_ids`, by userId."""

    def save_person(self, doc: Doc) -> None:
        """Store a profile whole (appId, userId, traits, traitTimes, anonymousIds, groups,
        firstSeen, lastSeen, eventCount), replacing the stored one."""

    def delete_person(self, app_id: str, user_id: str) -> None:
        """Remove a profile (one merged into another)."""

    def get_identities(self, app_id: str, anonymous_ids: Iterable[str]) -> dict[str, Doc]:
        """The stored identity-map rows among `anonymous_ids`, by anonymousId."""

    def save_identity(self, doc: Doc) -> None:
        """Store an identity-map row whole (appId, anonymousId, userId or None, traits,
        traitTimes, groups, firstSeen, lastSeen, eventCount), replacing the stored one."""

    def get_group(self, app_id: str, group_id: str) -> Doc | None:
        """A group (appId, groupId, traits, traitTimes), or None."""

    def save_group(self, doc: Doc) -> None:
        """Store a group whole, replacing the stored one."""

    def event_activity(self, app_id: str, event_ids: Iterable[str]) -> list[Doc]:
        """The stored events among `event_ids` grouped by (userId, anonymousId): each group's
        userId, anonymousId, count, firstSeen and lastSeen (their earliest and latest time)."""

    def add_activity(self, rows: list[Doc]) -> None:
        """In one write, add each row's count to a profile (kind "person", id its userId) or an
        identity-map row (kind "identity", id its anonymousId) of its appId, making it when
        missing, and widen its firstSeen/lastSeen to the row's."""

