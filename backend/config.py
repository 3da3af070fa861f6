"""Settings read from the environment, with embedded-mode defaults.

Every secret and address comes from here; nothing else reads os.environ for them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = REPO_ROOT / "var"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    # Customer store: SQLite file by default, PostgreSQL when DATABASE_URL says so.
    database_url: str = f"sqlite:///{VAR_DIR / 'logistics.db'}"
    # Where the backend reaches the Rasa server (never exposed to browsers).
    rasa_url: str = "http://127.0.0.1:5005"
    # Several Rasa servers sharing one tracker and lock store (comma-separated URLs); the
    # gateway keeps each conversation on one of them and falls over to the next. Empty: rasa_url.
    rasa_servers: str = ""
    # "embedded" (SQLite, one Rasa server, in-memory trackers) or "production" (see README).
    parcelline_mode: str = "embedded"
    # Production mode: Redis for Rasa's lock store, and Rasa's SQL tracker store (default: the
    # customer store's PostgreSQL database).
    redis_url: str = "redis://127.0.0.1:6379/0"
    tracker_database_url: str = ""
    # Where the gateway keeps turn locks, socket delivery, pending queues and rate counters:
    # "memory" (one backend worker) or "redis" (REDIS_URL; several workers). Empty: redis in
    # production mode, memory otherwise.
    gateway_state: str = ""
    # Shared secret in the path of the callback URL Rasa posts bot messages to.
    rasa_callback_secret: str = "dev-callback-secret"
    # Seconds the gateway waits for Rasa to finish a turn.
    rasa_timeout_seconds: float = 30.0
    # Longest user message the gateway accepts, in characters.
    max_message_chars: int = 2000
    # Shown to customers whenever the assistant cannot answer.
    support_phone: str = "0330 123 4567"
    support_hours: str = "Mon–Fri 8:00–20:00, Sat 9:00–14:00"
    # The carrier's own time zone: deadlines and opening hours are said in it.
    carrier_timezone: str = "Europe/London"
    # Seconds a health check waits for each dependency.
    health_timeout_seconds: float = 3.0
    log_level: str = "INFO"
    # Token of Rasa's HTTP API (trigger_intent for proactive surveys); generated per run.
    rasa_api_token: str = ""
    # Where customers reach the chat page: survey links in SMS and e-mail start with it.
    public_url: str = "http://127.0.0.1:8000"
    # Bearer token for internal write endpoints (tracking events, relationship sampling).
    internal_api_token: str = "dev-internal-token"
    # Days a survey invitation stays open.
    survey_expiry_days: int = 7
    # Business customers sampled per account manager for the monthly relationship survey.
    relationship_sample_size: int = 5
    # Minutes since the widget last spoke or polled for a chat to count as open.
    open_chat_minutes: int = 10
    # Customer messages accepted per minute, per conversation and per client IP (0 = no limit).
    chat_rate_per_conversation: int = 20
    chat_rate_per_ip: int = 60
    # Sites allowed to embed the widget when it is served from another origin (comma-separated,
    # e.g. "https://www.carrier.example"); the backend's own pages need nothing here.
    widget_origins: str = ""

    def secret(self, name: str) -> str:
        """A secret's value, or "" when production mode finds it left at its built-in demo value:
        the README prints those, so in production they open nothing."""
        value = getattr(self, name)
        if (
            self.production
            and name in DEMO_SECRETS
            and value == Settings.model_fields[name].default
        ):
            return ""
        return value

    @property
    def rasa_server_list(self) -> list[str]:
        servers = [u.strip().rstrip("/") for u in self.rasa_servers.split(",") if u.strip()]
        return servers or [self.rasa_url.rstrip("/")]

    @property
    def production(self) -> bool:
        return self.parcelline_mode.strip().lower() == "production"

    @property
    def widget_origin_list(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.widget_origins.split(",") if o.strip()]

    # Agent accounts: the demo agent and manager created at start-up when missing (an empty
    # password skips that account). Change them, or set your own, outside a demo.
    demo_agent_username: str = "agent"
    demo_agent_password: str = "parcelline-agent-demo"
    demo_manager_username: str = "manager"
    demo_manager_password: str = "parcelline-manager-demo"
    # A console session ends after this long, or after this long without a request.
    agent_session_hours: float = 8.0
    agent_idle_minutes: float = 60.0
    # Lockout: this many failed logins within the window lock the account for lock minutes.
    login_max_failures: int = 5
    login_failure_window_minutes: float = 15.0
    login_lock_minutes: float = 15.0
    # Failed logins from one client address within the same window before it must wait (429),
    # whatever the usernames: stops one address guessing many accounts or locking them out.
    login_max_failures_per_ip: int = 20

    # Human handoff: opening hours of the agents' desk in the carrier's time zone
    # ("always" for a desk that never closes), minutes one conversation takes an agent,
    # agents on duty, minutes before an untaken handoff becomes a call-back ticket, and how
    # often the backend looks for those.
    handoff_hours: str = "Mon-Fri 08:00-20:00; Sat 09:00-14:00"
    handoff_handling_minutes: float = 6.0
    handoff_agents_on_duty: int = 2
    handoff_pickup_minutes: float = 15.0
    handoff_sweep_seconds: float = 30.0


# Secrets with a built-in value for a demo on one machine; production mode ignores that value.
DEMO_SECRETS = frozenset({"internal_api_token", "demo_agent_password", "demo_manager_password"})


def carrier_zone(settings: Settings | None = None) -> ZoneInfo:
    return ZoneInfo((settings or get_settings()).carrier_timezone)


@lru_cache
def get_settings() -> Settings:
    return Settings()
