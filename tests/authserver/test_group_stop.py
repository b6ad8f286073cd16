"""``group_stop.StopNotes`` in a master whose Python handler runs late, as granian's does under
load: the stop the master was sent is seen when its worker's exit is judged, and a worker
stopped alone is not taken for a stop of its master. The whole server in
``tests/e2e/test_shutdown.py``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

_MASTER = """
import json, os, signal, sys, threading
from authserver.cli import held_stops
from authserver.cli.group_stop import StopNotes

who, taken_by = sys.argv[1], sys.argv[2]
handled = []
signal.signal(signal.SIGTERM, lambda *_: handled.append(1))  # granian's master handler
notes = StopNotes()
held_stops.block()  # the main thread, not run yet: its Python handler comes late, if at all
child = os.fork()
if child == 0:
    forgotten = signal.set_wakeup_fd(-1) == -1  # the master's pipe is not the worker's
    signal.sigwait([signal.SIGTERM])  # the worker's stop
    os._exit(0 if forgotten else 5)
def other_thread():  # one of the master's threads takes the stop; then the worker stops
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM])
    while not notes.told_to_stop():  # the C handler has run here: the stop is no longer pending
        pass
    os.kill(child, signal.SIGTERM)

verdict = {}

def watcher():  # as GroupStoppedServer's: stops blocked, the worker's exit awaited, judged
    held_stops.block()
    _, status = os.waitpid(child, 0)
    verdict.update(told=notes.told_to_stop(), handled=bool(handled), child=os.waitstatus_to_exitcode(status))

judge = threading.Thread(target=watcher)
judge.start()
if who == "group" and taken_by == "a thread":
    threading.Thread(target=other_thread).start()  # started before the stop, which it kills the child after
    os.kill(os.getpid(), signal.SIGTERM)
else:
    if who == "group":
        os.kill(os.getpid(), signal.SIGTERM)
    os.kill(child, signal.SIGTERM)
judge.join()
print(json.dumps(verdict))
"""


@pytest.mark.parametrize(("who", "taken_by", "told"), [
    ("group", "no thread yet", True), ("group", "a thread", True), ("worker", "no thread yet", False),
], ids=["the group stopped, the stop pending", "the group stopped, the stop taken", "the worker alone"])
def test_a_worker_exit_is_judged_with_the_stop_its_master_was_sent(who: str, told: bool, taken_by: str) -> None:
    """"No thread yet" is the main thread not yet scheduled, under load: the stop is pending."""
    done = subprocess.run([sys.executable, "-c", _MASTER, who, taken_by], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    verdict = json.loads(done.stdout)
    assert verdict["child"] == 0  # the worker stopped, and had no wakeup fd of its master's
    assert verdict["told"] is told
    if taken_by == "no thread yet":
        assert verdict["handled"] is False  # what granian goes by had not happened yet


def test_the_granian_parts_it_builds_on_are_there() -> None:
    """A granian that renames them would leave every group stop a crash again, silently."""
    from granian.server import Server
    from granian.server.mp import MPServer, WorkerProcess

    assert Server is MPServer  # the build with the GIL, which ``serve`` runs
    assert callable(WorkerProcess._watcher)
    assert "interrupt_by_parent" in WorkerProcess._watcher.__code__.co_names
