from dataclasses import FrozenInstanceError

import pytest

from hmcli.skeleton import BLAZEPOSE33, COCO17, H36M17, HALPE26, JOINT_SETS, JointSet, get_joint_set
from hmcli.skeleton.joints import _mirror_name


def test_registry_holds_the_four_sets():
    assert set(JOINT_SETS) == {"h36m17", "coco17", "blazepose33", "halpe26"}
    for name, js in JOINT_SETS.items():
        assert js.name == name
        assert get_joint_set(name) is js
    assert [js.num_joints for js in (H36M17, COCO17, BLAZEPOSE33, HALPE26)] == [17, 17, 33, 26]


def test_get_joint_set_unknown_lists_known_names():
    with pytest.raises(ValueError) as e:
        get_joint_set("openpose25")
    msg = str(e.value)
    assert "openpose25" in msg
    for name in JOINT_SETS:
        assert name in msg


def test_get_joint_set_passes_joint_set_through():
    assert get_joint_set(COCO17) is COCO17


def test_h36m_layout():
    expected = [
        "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
        "spine", "thorax", "nose", "head", "left_shoulder", "left_elbow", "left_wrist",
        "right_shoulder", "right_elbow", "right_wrist",
    ]
    assert list(H36M17.joints) == expected
    assert H36M17.left == (4, 5, 6, 11, 12, 13)
    assert H36M17.right == (1, 2, 3, 14, 15, 16)
    assert H36M17.parents == (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
    assert H36M17.root == 0
    # edges are exactly (parent, child) for every non-root joint
    assert sorted(H36M17.edges) == sorted((p, c) for c, p in enumerate(H36M17.parents) if p >= 0)
    assert len(H36M17.edges) == 16


def test_coco_blazepose_halpe_orders():
    assert COCO17.joints[:5] == ("nose", "left_eye", "right_eye", "left_ear", "right_ear")
    assert COCO17.index("left_shoulder") == 5 and COCO17.index("right_ankle") == 16
    assert COCO17.index("left_hip") == 11 and COCO17.index("right_wrist") == 10
    assert BLAZEPOSE33.index("left_eye_outer") == 3
    assert BLAZEPOSE33.index("mouth_right") == 10
    assert BLAZEPOSE33.index("left_shoulder") == 11
    assert BLAZEPOSE33.index("right_thumb") == 22
    assert BLAZEPOSE33.index("left_hip") == 23
    assert BLAZEPOSE33.index("right_foot_index") == 32
    assert HALPE26.joints[:17] == COCO17.joints
    assert [HALPE26.index(n) for n in ("head", "neck", "hip")] == [17, 18, 19]
    assert HALPE26.joints[20:] == (
        "left_big_toe", "right_big_toe", "left_small_toe", "right_small_toe", "left_heel", "right_heel",
    )
    assert len(COCO17.edges) == 19
    assert len(BLAZEPOSE33.edges) == 35


def test_index_unknown_joint_raises():
    with pytest.raises(ValueError, match="left_tail"):
        COCO17.index("left_tail")


@pytest.mark.parametrize("name", sorted(JOINT_SETS))
def test_flip_index_is_involution_and_mirrors_names(name):
    js = JOINT_SETS[name]
    p = js.flip_index
    assert sorted(p) == list(range(js.num_joints))
    assert [p[p[i]] for i in range(js.num_joints)] == list(range(js.num_joints))
    for i, joint in enumerate(js.joints):
        mirrored = _mirror_name(joint)
        assert js.joints[p[i]] == (joint if mirrored is None else mirrored)


@pytest.mark.parametrize("name", sorted(JOINT_SETS))
def test_left_right_pairs_are_named_left_and_right(name):
    js = JOINT_SETS[name]
    for a, b in zip(js.left, js.right):
        assert "left" in js.joints[a] and "right" in js.joints[b]
        assert _mirror_name(js.joints[a]) == js.joints[b]


@pytest.mark.parametrize("name", sorted(JOINT_SETS))
def test_every_joint_is_on_an_edge(name):
    js = JOINT_SETS[name]
    assert {i for e in js.edges for i in e} == set(range(js.num_joints))


@pytest.mark.parametrize("name", ["h36m17", "coco17"])
def test_edges_connect_every_joint(name):
    # (BlazePose and Halpe draw the face as its own component, so only these two are connected)
    js = JOINT_SETS[name]
    adj = {i: set() for i in range(js.num_joints)}
    for a, b in js.edges:
        adj[a].add(b)
        adj[b].add(a)
    seen, todo = {0}, [0]
    while todo:
        for n in adj[todo.pop()] - seen:
            seen.add(n)
            todo.append(n)
    assert seen == set(range(js.num_joints))


def test_edges_mirror_onto_edges():
    for js in JOINT_SETS.values():
        p = js.flip_index
        edges = {frozenset(e) for e in js.edges}
        assert {frozenset((p[a], p[b])) for a, b in js.edges} == edges


def test_joint_set_is_frozen_and_validated():
    with pytest.raises(FrozenInstanceError):
        H36M17.name = "x"  # type: ignore[misc]
    with pytest.raises(ValueError):
        JointSet("bad", ("a", "b"), ((0, 2),), (), ())
    with pytest.raises(ValueError):
        JointSet("bad", ("a", "a"), (), (), ())
    with pytest.raises(ValueError):
        JointSet("bad", ("a", "b", "c"), (), (1,), ())
    with pytest.raises(ValueError):
        JointSet("bad", ("a", "b"), ((0, 1),), (), (), parents=(-1, -1))
