"""Role shortname -> Moodle role id, from configuration (role ids differ between Moodle sites)."""

from __future__ import annotations

from dataclasses import dataclass, field

from seatflow.config import ConfigurationError, get_settings


@dataclass(frozen=True)
class RoleMap:
    role_ids: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_settings(cls) -> RoleMap:
        return cls(dict(get_settings().role_ids))

    def id_for(self, shortname: str) -> int:
        try:
            return int(self.role_ids[shortname])
        except KeyError:
            known = ", ".join(sorted(self.role_ids)) or "none"
            raise ConfigurationError(
                f"Moodle role {shortname!r} has no id mapped (mapped: {known}); add it to MOODLE_ROLE_IDS, "
                f"e.g. MOODLE_ROLE_IDS='{{\"{shortname}\": 9}}'"
            ) from None
