"""benchmarks/stronger_pairing.py: the stronger model never reads the benchmark's images."""

import stronger_pairing


def test_split_rows_keep_original_and_fresh_images_out() -> None:
    files = [
        f'RGB/{name}/{name}_{index:04d}.jpg'
        for name in ('Forest', 'River')
        for index in range(12)
    ]
    rows = dict(stronger_pairing.split_rows(files, seen=3, train=5, val=2))
    assert list(rows) == files
    for file, split in rows.items():
        index = int(file[-8:-4])
        # 0-2: the benchmark's own; 3-7: train; 8-9: val; 10-11: fresh test.
        expected = 'train' if 3 <= index <= 7 else 'val' if index in (8, 9) else 'test'
        assert split == expected, file
    assert sum(split == 'train' for split in rows.values()) == 2 * 5
