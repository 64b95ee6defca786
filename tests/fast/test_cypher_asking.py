"""The thread pool on which a walk asks Neo4j for left-out neighbours (graph.analytics.cypher)
serves a process forked after it was used: a pool inherited with its parent's threads counted
but gone would start none, and leave a walk waiting forever. Nothing forks a process that has
walked today; a server that loads the project before forking its workers would."""

import os
from concurrent.futures import TimeoutError as NotAnswered

from graph.analytics import cypher


def asked_in_a_forked_child() -> int:
    pid = os.fork()
    if pid == 0:
        try:
            answered = cypher._asking.submit(lambda: "answered").result(timeout=20) == "answered"
        except NotAnswered:
            answered = False
        os._exit(0 if answered else 1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_a_process_forked_after_its_parent_asked_is_answered():
    # The parent's pool has started a thread before the fork.
    assert cypher._asking.submit(os.getpid).result(timeout=20) == os.getpid()
    assert asked_in_a_forked_child() == 0
    assert asked_in_a_forked_child() == 0
    assert cypher._asking.submit(lambda: "still").result(timeout=20) == "still"
