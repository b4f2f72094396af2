"""``python -m orders_local.emulator start|stop|status|env``: Google's official Pub/Sub emulator, locally.

``start`` launches the emulator on a free loopback port, records its PID in the data dir, creates the orders
topic, the pipeline subscription (unordered unless ``--message-ordering``: see create_resources), the dead-letter
topic and a subscription on it, and prints the ``PUBSUB_EMULATOR_HOST`` to export. ``stop`` ends only the process
group it started, by PID.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from orders_local.cli import OneLineErrorParser

DEFAULT_PROJECT = "local-project"
DEFAULT_TOPIC = "orders"
DEFAULT_SUBSCRIPTION = "orders-pipeline"
DEFAULT_DEAD_LETTER_TOPIC = "orders-dead-letter"
DEFAULT_DEAD_LETTER_SUBSCRIPTION = "orders-dead-letter-sub"
DEFAULT_DATA_DIR = Path("data") / "pubsub-emulator"
STATE_FILE = "emulator.json"
INSTALL_HINT = (
    "the Pub/Sub emulator is not installed. Install it with `gcloud components install pubsub-emulator` "
    "or, for a Debian/apt install of the Cloud SDK, `apt-get install google-cloud-cli-pubsub-emulator`"
)


class EmulatorError(RuntimeError):
    """The emulator could not be found, started, reached or stopped."""


@dataclass(frozen=True)
class Emulator:
    """A running emulator that this project started."""

    pid: int
    host: str  # host:port, the value of PUBSUB_EMULATOR_HOST
    project: str
    data_dir: str

    def topic(self, name: str) -> str:
        return f"projects/{self.project}/topics/{name}"

    def subscription(self, name: str) -> str:
        return f"projects/{self.project}/subscriptions/{name}"

    def environment(self) -> dict[str, str]:
        return {**os.environ, "PUBSUB_EMULATOR_HOST": self.host}


SDK_ROOTS = (Path("/usr/lib/google-cloud-sdk"), Path("/usr/share/google-cloud-sdk"))


def emulator_command(host: str, port: int, sdk_roots: tuple[Path, ...] = SDK_ROOTS) -> list[str]:
    """The emulator's own launcher when found (fast, no gcloud wrapper), else ``gcloud beta emulators``."""
    gcloud = shutil.which("gcloud")
    candidates = list(sdk_roots)
    if gcloud:
        candidates.insert(0, Path(os.path.realpath(gcloud)).parent.parent)
    for sdk_root in candidates:
        launcher = sdk_root / "platform" / "pubsub-emulator" / "bin" / "cloud-pubsub-emulator"
        if launcher.is_file():
            return [str(launcher), f"--host={host}", f"--port={port}"]
    if gcloud:
        return [gcloud, "beta", "emulators", "pubsub", "start", f"--host-port={host}:{port}"]
    raise EmulatorError(INSTALL_HINT)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((host, port)) == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start(
    data_dir: Path = DEFAULT_DATA_DIR, project: str = DEFAULT_PROJECT, timeout: float = 60.0, port: int | None = None
) -> Emulator:
    """Start the emulator on a free loopback port (or ``port``) and wait until it accepts connections.

    The emulator keeps topics, subscriptions and messages in memory only: a restart starts empty."""
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    host, port = "127.0.0.1", port or free_port()
    command = emulator_command(host, port)
    if command[0].endswith("gcloud"):
        command += [f"--project={project}", f"--data-dir={data_dir}"]
    log = (data_dir / "emulator.log").open("ab")
    # A session of its own, so stop() can end the launcher and its JVM together, and nothing else.
    process = subprocess.Popen(command, cwd=data_dir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # noqa: S603 (gcloud's emulator as an argv list, no shell)
    log.close()
    deadline = time.monotonic() + timeout
    while not _port_open(host, port):
        if process.poll() is not None:
            raise EmulatorError(f"the emulator exited with code {process.returncode}; see {data_dir / 'emulator.log'}")
        if time.monotonic() > deadline:
            terminate_session(process.pid)
            raise EmulatorError(f"the emulator did not listen on {host}:{port} within {timeout:.0f}s")
        time.sleep(0.05)
    return Emulator(pid=process.pid, host=f"{host}:{port}", project=project, data_dir=str(data_dir))


def create_resources(
    emulator: Emulator,
    topic: str = DEFAULT_TOPIC,
    subscription: str = DEFAULT_SUBSCRIPTION,
    dead_letter_topic: str = DEFAULT_DEAD_LETTER_TOPIC,
    dead_letter_subscription: str = DEFAULT_DEAD_LETTER_SUBSCRIPTION,
    ack_deadline_seconds: int = 60,
    message_ordering: bool = False,
) -> None:
    """Topic, pipeline subscription, dead-letter topic and its subscription (idempotent).

    The pipeline subscription is unordered by default: the upsert is order-independent (``sequence`` decides), and
    ordered delivery holds each order's next message until the previous one is acked, i.e. committed. Measured
    (BENCHMARKS.md, streaming drain): no faster ordered, and with ordering keys the emulator starts a thread per
    key (thousands at a few thousand live orders) until pulls time out. ``message_ordering=True`` turns it on."""
    from google.api_core.exceptions import AlreadyExists
    from google.cloud import pubsub_v1

    os.environ["PUBSUB_EMULATOR_HOST"] = emulator.host
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    try:
        for name in (topic, dead_letter_topic):
            with contextlib.suppress(AlreadyExists):
                publisher.create_topic(request={"name": emulator.topic(name)}, timeout=30)
        for name, on_topic in ((subscription, topic), (dead_letter_subscription, dead_letter_topic)):
            with contextlib.suppress(AlreadyExists):
                subscriber.create_subscription(
                    request={
                        "name": emulator.subscription(name),
                        "topic": emulator.topic(on_topic),
                        "ack_deadline_seconds": ack_deadline_seconds,
                        "enable_message_ordering": message_ordering and name == subscription,
                    },
                    timeout=30,
                )
    finally:
        subscriber.close()


def terminate_session(pid: int, timeout: float = 15.0) -> None:
    """Stop the process group that ``pid`` leads (a process started with ``start_new_session``, and what it
    started): SIGTERM, then SIGKILL after ``timeout`` seconds. A child of ours is reaped when it exits in time."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            reaped, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # not our child (started by another command): poll instead
            reaped = 0 if _alive(pid) else pid
        if reaped == pid:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def stop(emulator: Emulator) -> None:
    """Stop the emulator's process group (which this project created) by its PID."""
    terminate_session(emulator.pid)


def save_state(emulator: Emulator) -> Path:
    path = Path(emulator.data_dir) / STATE_FILE
    path.write_text(json.dumps(asdict(emulator), indent=2) + "\n")
    return path


def load_state(data_dir: Path) -> Emulator | None:
    path = Path(data_dir) / STATE_FILE
    if not path.is_file():
        return None
    emulator = Emulator(**json.loads(path.read_text()))
    if not _alive(emulator.pid):
        path.unlink()
        return None
    return emulator


def main(argv: list[str] | None = None) -> int:
    parser = OneLineErrorParser(
        prog="python -m orders_local.emulator",
        description="Run Google's Pub/Sub emulator locally on a free loopback port, with the project's "
        "topic, "
        "pipeline subscription and dead-letter topic. `start` prints the PUBSUB_EMULATOR_HOST to export; "
        '`eval "$(python -m orders_local.emulator env)"` sets it in your shell.',
    )
    parser.add_argument("command", choices=("start", "stop", "status", "env"), help="what to do")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help=f"where the PID file and log live (default {DEFAULT_DATA_DIR})",
    )
    parser.add_argument("--project", default=DEFAULT_PROJECT, help=f"emulated project id (default {DEFAULT_PROJECT})")
    parser.add_argument("--topic", default=DEFAULT_TOPIC, help=f"orders topic (default {DEFAULT_TOPIC})")
    parser.add_argument(
        "--subscription",
        default=DEFAULT_SUBSCRIPTION,
        help=f"pipeline subscription (default {DEFAULT_SUBSCRIPTION})",
    )
    parser.add_argument(
        "--dead-letter-topic",
        default=DEFAULT_DEAD_LETTER_TOPIC,
        help=f"dead-letter topic (default {DEFAULT_DEAD_LETTER_TOPIC})",
    )
    parser.add_argument(
        "--message-ordering",
        action="store_true",
        help="create the pipeline subscription with message ordering (default: unordered; the upsert does not need it)",
    )
    args = parser.parse_args(argv)
    running = load_state(args.data_dir)
    try:
        if args.command == "start":
            if running:
                print(f"already running (pid {running.pid}) at {running.host}", file=sys.stderr)
                emulator = running
            else:
                emulator = start(args.data_dir, args.project)
                save_state(emulator)
                print(f"started Pub/Sub emulator (pid {emulator.pid}) at {emulator.host}", file=sys.stderr)
            create_resources(
                emulator,
                args.topic,
                args.subscription,
                args.dead_letter_topic,
                f"{args.dead_letter_topic}-sub",
                message_ordering=args.message_ordering,
            )
            print(
                f"topic {emulator.topic(args.topic)}\n"
                f"subscription {emulator.subscription(args.subscription)}\n"
                f"dead-letter topic {emulator.topic(args.dead_letter_topic)}",
                file=sys.stderr,
            )
            print(f"export PUBSUB_EMULATOR_HOST={emulator.host}")
        elif args.command == "stop":
            if not running:
                print("not running", file=sys.stderr)
                return 0
            stop(running)
            (Path(args.data_dir) / STATE_FILE).unlink(missing_ok=True)
            print(f"stopped Pub/Sub emulator (pid {running.pid})", file=sys.stderr)
        elif args.command == "status":
            print(f"running (pid {running.pid}) at {running.host}" if running else "not running")
            return 0 if running else 3
        elif not running:
            print(
                "error: the emulator is not running; start it with: python -m orders_local.emulator start",
                file=sys.stderr,
            )
            return 1
        else:
            print(f"export PUBSUB_EMULATOR_HOST={running.host}")
    except EmulatorError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
