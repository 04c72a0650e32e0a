"""SlotBatch: the flat bucket mapping every engine reads, built slot by slot; WrittenBuckets:
the bucket of each write, by position, for refusals."""
import pytest

from kairos.slot_batch import SlotBatch, WrittenBuckets, slots_of

SLOTS = {("minute", 10, None): {"a": 1, "b": 2}, ("hour", 0, 10): {"a": 3}}
FLAT = {("a", "minute", 10, None): 1, ("b", "minute", 10, None): 2, ("a", "hour", 0, 10): 3}


def test_a_slot_batch_is_the_flat_mapping_of_its_buckets():
    batch = SlotBatch(SLOTS)
    assert dict(batch) == FLAT and dict(batch.items()) == FLAT
    assert len(batch) == 3 and list(batch) == list(FLAT)
    assert batch[("b", "minute", 10, None)] == 2 and ("b", "hour", 0, 10) not in batch
    with pytest.raises(KeyError):
        batch[("c", "minute", 10, None)]
    assert ("a", "minute", 10) not in batch and batch.get(None) is None  # not buckets
    assert not SlotBatch({}) and not SlotBatch({("minute", 1, None): {}})


def test_slots_of_a_flat_batch_regroups_it_and_of_a_slot_batch_are_its_own():
    assert slots_of(FLAT) == SLOTS
    batch = SlotBatch(SLOTS)
    assert slots_of(batch) is SLOTS


def test_written_buckets_name_each_write_by_position():
    written = WrittenBuckets()
    for slot, names in SLOTS.items():
        written.add(slot, names)
    flat = list(FLAT)
    assert len(written) == 3 and list(written) == flat
    assert [written[i] for i in (2, 0, 1, -1)] == [flat[2], flat[0], flat[1], flat[2]]
    assert written[1:] == flat[1:]
    with pytest.raises(IndexError):
        written[3]
    with pytest.raises(IndexError):
        written[-4]
