"""``lakehouse deploy systemd``: the stack of ``lakehouse up`` as systemd units, written from the same settings so
the two never drift.

One unit per daemon of ``stack.services`` (``lakehouse serve --only NAME --behind-gateway`` on its stack port), the
gateway's unit, a one-shot that brings the operational DB's tables up to date before any of them starts, and
``lakehouse.target`` that starts them all. Each runs as its own user with a hardened sandbox whose only writable
path is the data dir, restarts with a doubling delay like the supervisor's, and reads two environment files: the
settings (``lakehouse.env``) and the stack's shared secret (``stack.env``, made here, readable by root only).
"""

from __future__ import annotations

import secrets
from pathlib import Path

from lakehouse.config import Settings
from lakehouse.services import SERVICES

TARGET = "lakehouse.target"
MIGRATE = "lakehouse-migrate.service"
HEADER = "# Written by `lakehouse deploy systemd` from {config}; regenerate it rather than edit it.\n"


def unit_name(process: str) -> str:
    return f"lakehouse-{process}.service"


def _writable(settings: Settings) -> list[str]:
    """The data dir, and any store path a setting puts outside it."""
    data_dir = settings.data_dir.resolve()
    paths = [data_dir]
    local = [settings.storage.local_root, settings.lake.catalog_path, settings.opsdb.sqlite_path]
    local += [settings.lake.spool_path, settings.vectors.index_path]
    if "://" not in settings.lake.data_path:
        local.append(settings.lake.data_path)
    for value in local:
        path = settings.in_data_dir(value).resolve()
        if not path.is_relative_to(data_dir) and path not in paths:
            paths.append(path.parent if path.suffix else path)
    return [str(p) for p in paths]


def _service(
    settings: Settings,
    *,
    description: str,
    exec_start: str,
    env_files: list[str],
    after: list[str],
    user: str,
) -> str:
    stack = settings.stack
    needs_pg = settings.opsdb.url is not None or settings.lake.catalog == "postgres"
    after_all = ["network-online.target", *(["postgresql.service"] if needs_pg else []), *after]
    lines = [
        "[Unit]",
        f"Description={description}",
        f"PartOf={TARGET}",
        "Wants=network-online.target",
        f"After={' '.join(after_all)}",
        "StartLimitIntervalSec=0",  # never give up restarting, like the supervisor; the delay grows instead
        *([f"Requires={' '.join(a for a in after if a == MIGRATE)}"] if MIGRATE in after else []),
        "",
        "[Service]",
        "Type=exec",
        f"User={user}",
        f"Group={user}",
        *[f"EnvironmentFile={f}" for f in env_files],
        f"WorkingDirectory={settings.data_dir.resolve()}",
        f"ExecStart={exec_start}",
        "Restart=on-failure",
        f"RestartSec={stack.restart_backoff_s:g}",
        f"RestartSteps={max(1, stack.failing_after)}",  # systemd 254+: the delay grows to RestartMaxDelaySec
        f"RestartMaxDelaySec={stack.restart_backoff_max_s:g}",
        f"TimeoutStopSec={stack.drain_timeout_s:g}",
        "KillSignal=SIGTERM",
        "NoNewPrivileges=true",
        "ProtectSystem=strict",
        "ProtectHome=true",
        "PrivateTmp=true",
        "PrivateDevices=true",
        "ProtectKernelTunables=true",
        "ProtectKernelModules=true",
        "ProtectControlGroups=true",
        "RestrictSUIDSGID=true",
        "LockPersonality=true",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
        f"ReadWritePaths={' '.join(_writable(settings))}",
        "",
        "[Install]",
        f"WantedBy={TARGET}",
        "",
    ]
    return "\n".join(lines)


def systemd_units(
    settings: Settings,
    *,
    config: str,
    executable: str = "/opt/lakehouse/venv/bin/lakehouse",
    env_file: str = "/etc/lakehouse/lakehouse.env",
    stack_env_file: str = "/etc/lakehouse/stack.env",
    user: str = "lakehouse",
    secret: str | None = None,
) -> dict[str, str]:
    """File name -> text of every unit, the target and ``stack.env`` (with ``secret``, or a new one)."""
    header = HEADER.format(config=config)
    env_files = [env_file, stack_env_file]
    common = f"--config {config}"
    files: dict[str, str] = {}
    files[MIGRATE] = header + "\n".join(
        [
            "[Unit]",
            "Description=Lakehouse: bring the operational DB's tables up to date",
            f"PartOf={TARGET}",
            "Wants=network-online.target",
            "After=network-online.target"
            + (" postgresql.service" if settings.opsdb.url is not None or settings.lake.catalog == "postgres" else ""),
            "",
            "[Service]",
            "Type=oneshot",
            "RemainAfterExit=yes",
            f"User={user}",
            f"Group={user}",
            *[f"EnvironmentFile={f}" for f in env_files],
            f"WorkingDirectory={settings.data_dir.resolve()}",
            f"ExecStart={executable} db upgrade {common}",
            "NoNewPrivileges=true",
            "ProtectSystem=strict",
            "ProtectHome=true",
            "PrivateTmp=true",
            f"ReadWritePaths={' '.join(_writable(settings))}",
            "",
            "[Install]",
            f"WantedBy={TARGET}",
            "",
        ]
    )
    daemons = list(settings.stack.services)
    for name in daemons:
        files[unit_name(name)] = header + _service(
            settings,
            description=f"Lakehouse {name}: {SERVICES[name].summary}",
            exec_start=(
                f"{executable} serve --only {name} --behind-gateway --host {settings.stack.host} "
                f"--port {settings.stack.port(name)} {common}"
            ),
            env_files=env_files,
            after=[MIGRATE],
            user=user,
        )
    files[unit_name("gateway")] = header + _service(
        settings,
        description="Lakehouse gateway: the one public port, in front of the daemons",
        exec_start=(
            f"{executable} serve --gateway --host {settings.server.host} --port {settings.server.port} {common}"
        ),
        env_files=env_files,
        after=[MIGRATE, *(unit_name(n) for n in daemons)],
        user=user,
    )
    wants = [MIGRATE, *(unit_name(n) for n in daemons), unit_name("gateway")]
    files[TARGET] = header + "\n".join(
        [
            "[Unit]",
            "Description=Lakehouse stack: the gateway and one process per daemon",
            f"Wants={' '.join(wants)}",
            "After=network-online.target",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]
    )
    files["stack.env"] = (
        "# The secret the daemons of the stack ask of the gateway's requests. Keep this file root-only (0600).\n"
        f"LAKEHOUSE_STACK__SECRET={secret or secrets.token_urlsafe(32)}\n"
    )
    return files


def write_units(files: dict[str, str], out: Path) -> list[Path]:
    """Write them under ``out`` (``stack.env`` readable by its owner only)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files.items():
        path = out / name
        path.write_text(text)
        if name.endswith(".env"):
            path.chmod(0o600)
        written.append(path)
    return written
