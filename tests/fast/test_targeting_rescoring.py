"""The queue's API scores again what rests on what the agency may no longer see, as opening
the queue page does: on the embedded default nothing else would (no beat), and a stale
explanation's values and score were a partner's seizures (an adversarial review). The
scene is tests/targeting_scene.py's; what cus may see is written out there by hand."""

import pytest

from sharing import agreements
from tests.sharing_helpers import platform_admin
from tests.targeting_scene import build

pytestmark = pytest.mark.django_db

API = "/api/targeting/queue/"


def test_the_api_scores_again_once_a_partners_seizures_are_out_of_sight(
    tmp_path, django_capture_on_commit_callbacks
):
    scene = build(tmp_path)
    client = scene.cus.client()
    path = f"{API}{scene.record('CQ-1').public_id}/"
    before = {part["name"]: part for part in client.get(path).json()["parts"]}
    # With pol's seizure PZ-1 in sight, CQ-1's importer shares an address with a seized party.
    assert before["seized_identifier"]["value"] > 0
    agreements.suspend(scene.mou, platform_admin(), "review")
    # The scoring a request asks for runs as its transaction commits (eagerly, embedded): in
    # a test's transaction, when the callbacks are run.
    with django_capture_on_commit_callbacks(execute=True):
        client.get(path)
    after = client.get(path).json()
    parts = {part["name"]: part for part in after["parts"]}
    # cus now sees no seizure at all (only its own declarations CQ-1 and CQ-2): no network
    # part, each a matter of seizures, is worth anything, and none rests on the old network.
    network = [part for part in parts.values() if part["kind"] == "network"]
    assert all(part["contribution"] == 0 and not part["withheld"] for part in network)
    assert parts.get("seized_identifier", {"value": 0})["value"] == 0
    assert round(sum(part["contribution"] for part in parts.values()), 4) == after["score"]
    listed = client.get(API).json()["results"]
    assert {row["external_ref"] for row in listed} == {"CQ-1", "CQ-2"}
