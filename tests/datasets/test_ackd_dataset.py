import csv
import math
from pathlib import Path
from typing import ClassVar

import matplotlib
import numpy as np
import pytest
import torch
from ackd_fake_data import make_benchmark, write_geotiff, write_rgb
from torch.utils.data import default_collate

from torchgeo_ackd.datasets import ACKDDataset, collate_fetched
from torchgeo_ackd.sensors import SENTINEL2_EUROSAT, Sensor

matplotlib.use('Agg')

CLASSES = ('A', 'B', 'C')


class Fake(ACKDDataset):
    classes: ClassVar[tuple[str, ...]] = CLASSES
    ms_sensor: ClassVar[Sensor] = SENTINEL2_EUROSAT


class FakeMultiLabel(Fake):
    ms_multilabel = True


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_benchmark(tmp_path / 'bench', CLASSES, n_ms=10, n_rgb=5)


class TestACKDDataset:
    def test_getitem_ms(self, root: Path) -> None:
        ds = Fake(root, modality='ms', split='all')
        assert len(ds) == 30
        x = ds[0]
        assert x['image'].shape == (13, 8, 8) and x['image'].dtype == torch.float32
        assert x['label'].ndim == 0 and int(x['index']) == 0
        # Class A (label 0) band b of the fake data lies in [1000 + 100 b, 1050 + 100 b).
        band_means = x['image'].mean(dim=(1, 2))
        assert torch.all(
            (band_means >= 1000 + 100 * torch.arange(13))
            & (band_means < 1050 + 100 * torch.arange(13))
        )

    def test_band_subset_by_name(self, root: Path) -> None:
        full = Fake(root, split='all')[0]['image']
        sub = Fake(root, split='all', bands=['B04', 'B03', 'B02', 'B8A'])[0]['image']
        assert torch.equal(sub, full[[3, 2, 1, 12]])

    def test_unknown_band(self, root: Path) -> None:
        with pytest.raises(ValueError, match="'B13'"):
            Fake(root, bands=['B13'])

    def test_getitem_rgb(self, root: Path) -> None:
        ds = Fake(root, modality='rgb', split='all')
        x = ds[len(ds) - 1]
        assert x['image'].shape == (3, 12, 12)
        assert int(x['label']) == 2
        assert 0 <= x['image'].min() and x['image'].max() <= 255

    def test_png_and_resize(self, tmp_path: Path) -> None:
        make_benchmark(tmp_path, CLASSES, rgb_ext='.png', n_rgb=2)

        class Resized(Fake):
            rgb_size = 6
            ms_size = 4

        assert Resized(tmp_path, modality='rgb', split='all')[0]['image'].shape == (
            3,
            6,
            6,
        )
        assert Resized(tmp_path, modality='ms', split='all')[0]['image'].shape == (
            13,
            4,
            4,
        )

    def test_splits_stratified_disjoint_deterministic(self, root: Path) -> None:
        parts = {
            s: Fake(root, split=s, val_fraction=0.2, test_fraction=0.3)
            for s in ('train', 'val', 'test')
        }
        files = [set(parts[s].files) for s in parts]
        assert sum(map(len, files)) == 30 and len(set.union(*files)) == 30
        for s, n in (('train', 5), ('val', 2), ('test', 3)):
            assert torch.bincount(parts[s].targets, minlength=3).tolist() == [n] * 3
        assert (
            Fake(root, split='val', val_fraction=0.2, test_fraction=0.3).files
            == parts['val'].files
        )
        other = Fake(root, split='val', val_fraction=0.2, test_fraction=0.3, seed=1)
        assert other.files != parts['val'].files

    def test_split_file(self, root: Path, tmp_path: Path) -> None:
        all_files = Fake(root, split='all').files
        split_file = tmp_path / 'split.csv'
        with open(split_file, 'w', newline='') as f:
            w = csv.writer(f)
            w.writerow(['path', 'split'])
            for i, p in enumerate(all_files):
                w.writerow(
                    [p.relative_to(root).as_posix(), 'val' if i % 3 == 0 else 'train']
                )
        val = Fake(root, split='val', split_file=split_file)
        assert val.files == all_files[::3]
        # A file missing from the split file is an error, not dropped.
        lines = split_file.read_text().splitlines()
        split_file.write_text('\n'.join(lines[:-1]) + '\n')
        with pytest.raises(ValueError, match='does not list 1 files'):
            Fake(root, split='val', split_file=split_file)

    def test_class_subset_labels_index_full_vocabulary(self, tmp_path: Path) -> None:
        make_benchmark(tmp_path, CLASSES, rgb_classes=['C'], n_rgb=2)
        ds = Fake(tmp_path, modality='rgb', split='all', classes=['C'])
        assert ds.targets.tolist() == [2, 2]

    def test_multilabel(self, tmp_path: Path) -> None:
        make_benchmark(tmp_path, CLASSES, multilabel=True, n_ms=2)
        ds = FakeMultiLabel(tmp_path, split='all')
        assert ds[0]['label'].tolist() == [1.0, 1.0, 0.0]  # A;B
        assert ds[5]['label'].tolist() == [1.0, 0.0, 1.0]  # C;A
        assert ds.targets.tolist() == [0, 0, 1, 1, 2, 2]
        (tmp_path / 'MS' / 'labels.csv').unlink()
        with pytest.raises(FileNotFoundError, match='labels.csv'):
            FakeMultiLabel(tmp_path, split='all')

    def test_plot(self, root: Path) -> None:
        for modality in ('ms', 'rgb'):
            ds = Fake(root, modality=modality, split='all')
            sample = ds[0]
            sample['prediction'] = torch.tensor(1)
            fig = ds.plot(sample, suptitle='x')
            assert 'Prediction: B' in fig.axes[0].get_title()
        with pytest.raises(ValueError, match='pseudo-RGB'):
            ds = Fake(root, split='all', bands=['B08'])
            ds.plot(ds[0])

    def test_transforms(self, root: Path) -> None:
        ds = Fake(
            root, split='all', transforms=lambda s: {**s, 'image': s['image'] / 10000}
        )
        assert ds[0]['image'].max() < 1


class TestBadInput:
    def test_missing_root(self, tmp_path: Path) -> None:
        with pytest.raises(FileNotFoundError, match='nope'):
            Fake(tmp_path / 'nope')

    def test_missing_modality(self, tmp_path: Path) -> None:
        (tmp_path / 'MS').mkdir()
        with pytest.raises(FileNotFoundError, match='RGB'):
            Fake(tmp_path, modality='rgb')

    def test_class_folder_on_one_side_only(self, tmp_path: Path) -> None:
        make_benchmark(tmp_path, CLASSES, rgb_classes=['A', 'B'])
        with pytest.raises(FileNotFoundError, match=r"\['C'\] are missing"):
            Fake(tmp_path, modality='rgb')

    def test_unexpected_class_folder(self, root: Path) -> None:
        (root / 'MS' / 'Z').mkdir()
        with pytest.raises(ValueError, match="unexpected class folders \\['Z'\\]"):
            Fake(root)

    def test_empty_class_and_stray_file(self, root: Path) -> None:
        (root / 'RGB' / 'A' / 'notes.txt').write_text('x')
        with pytest.raises(ValueError, match='notes.txt'):
            Fake(root, modality='rgb')
        for p in (root / 'RGB' / 'A').iterdir():
            p.unlink()
        with pytest.raises(ValueError, match='holds no images'):
            Fake(root, modality='rgb')

    def test_wrong_band_count(self, root: Path) -> None:
        bad = root / 'MS' / 'A' / 'A_0.tif'
        write_geotiff(bad, np.ones((12, 8, 8), np.uint16))
        ds = Fake(root, split='all')
        with pytest.raises(ValueError, match=r'A_0.tif.* has 12 bands.*13 bands'):
            ds[ds.files.index(bad)]

    def test_truncated_files(self, root: Path) -> None:
        for path in (root / 'MS' / 'A' / 'A_1.tif', root / 'RGB' / 'A' / 'A_1.jpg'):
            data = path.read_bytes()
            path.write_bytes(data[: len(data) // 3])
            ds = Fake(
                root, modality='ms' if path.suffix == '.tif' else 'rgb', split='all'
            )
            with pytest.raises(ValueError, match=f'cannot read image.*{path.name}'):
                ds[ds.files.index(path)]

    def test_non_finite(self, root: Path) -> None:
        bad = root / 'MS' / 'B' / 'B_0.tif'
        array = np.ones((13, 8, 8), np.float32)
        array[2, 3, 3] = math.nan
        write_geotiff(bad, array)
        ds = Fake(root, split='all')
        with pytest.raises(ValueError, match='B_0.tif.*non-finite'):
            ds[ds.files.index(bad)]

    def test_grayscale_rgb(self, root: Path) -> None:
        bad = root / 'RGB' / 'A' / 'A_0.jpg'
        write_rgb(bad, np.zeros((12, 12), np.uint8))
        ds = Fake(root, modality='rgb', split='all')
        with pytest.raises(ValueError, match='A_0.jpg.* has 1 bands'):
            ds[ds.files.index(bad)]

    @pytest.mark.parametrize(
        'kwargs,match',
        [
            ({'modality': 'sar'}, 'modality'),
            ({'split': 'dev'}, 'split'),
            ({'classes': ['Q']}, 'Q'),
            ({'val_fraction': 0.6, 'test_fraction': 0.5}, 'must be < 1'),
        ],
    )
    def test_bad_arguments(self, root: Path, kwargs: dict, match: str) -> None:
        with pytest.raises(ValueError, match=match):
            Fake(root, **kwargs)

    def test_subclass_without_classes(self, root: Path) -> None:
        with pytest.raises(TypeError, match='must declare its classes'):
            ACKDDataset(root)


class TestDecodedInMemory:
    def test_samples_are_bit_identical(self, root: Path) -> None:
        for modality, dtype in (('ms', torch.int16), ('rgb', torch.uint8)):
            files = Fake(root, modality=modality, split='all')
            memory = Fake(root, modality=modality, split='all')
            needed = memory.decoded_bytes()
            assert needed is not None
            assert memory.decode(needed)
            assert memory.decoded is not None and memory.decoded.dtype == dtype
            assert memory.decoded.numel() * memory.decoded.element_size() == needed
            for i in range(len(files)):
                a, b = files[i], memory[i]
                assert torch.equal(a['image'], b['image']), (modality, i)
                assert a['image'].dtype == b['image'].dtype == torch.float32
                assert torch.equal(a['label'], b['label'])
            # No file is read once decoded.
            memory.files = [Path('/nonexistent')] * len(memory.files)
            assert torch.equal(memory[0]['image'], files[0]['image'])

    def test_budget_and_fallback(self, root: Path) -> None:
        ds = Fake(root, modality='ms', split='all')
        needed = ds.decoded_bytes()
        assert needed is not None
        assert not ds.decode(needed - 1)  # does not fit: files as before
        assert ds.decoded is None
        assert torch.equal(ds[0]['image'], Fake(root, split='all')[0]['image'])

    def test_values_beyond_int16_stay_exact(self, tmp_path: Path) -> None:
        make_benchmark(tmp_path, CLASSES, n_ms=2, n_rgb=1)
        bright = np.full((13, 8, 8), 40000, dtype=np.uint16)  # saturated pixels
        write_geotiff(tmp_path / 'MS' / 'A' / 'A_0000.tif', bright)
        ds = Fake(tmp_path, split='all')
        assert ds.decode(2**30)
        assert ds.decoded is not None and ds.decoded.dtype == torch.int32
        index = ds.files.index(tmp_path / 'MS' / 'A' / 'A_0000.tif')
        assert float(ds[index]['image'].max()) == 40000.0

    def test_resized_once(self, tmp_path: Path) -> None:
        """A dataset that resizes its files stores them resized (float32)."""
        make_benchmark(tmp_path, CLASSES, n_ms=2, n_rgb=3)  # RGB files 12 x 12

        class Resized(Fake):
            rgb_size = 6

        files = Resized(tmp_path, modality='rgb', split='all')
        memory = Resized(tmp_path, modality='rgb', split='all')
        assert memory.decoded_bytes() == len(memory) * 3 * 6 * 6 * 4
        assert memory.decode(2**30)
        assert memory.decoded is not None
        assert memory.decoded.shape == (len(memory), 3, 6, 6)
        assert memory.decoded.dtype == torch.float32
        for i in range(len(files)):
            assert torch.equal(memory[i]['image'], files[i]['image'])

    def test_images_of_other_sizes_are_not_decoded(self, tmp_path: Path) -> None:
        make_benchmark(tmp_path, CLASSES, n_ms=2, n_rgb=1)
        write_geotiff(
            tmp_path / 'MS' / 'B' / 'B_0000.tif', np.ones((13, 6, 6), np.uint16)
        )
        ds = Fake(tmp_path, split='all')
        assert not ds.decode(2**30) and ds.decoded is None

    def test_batched_fetch_equals_samples(self, tmp_path: Path) -> None:
        """``__getitems__`` (the loader's batched fetch) gives ``__getitem__``'s samples."""
        make_benchmark(tmp_path, CLASSES, n_ms=4, n_rgb=4, multilabel=True)
        cases = (
            (Fake, 'rgb', torch.uint8),
            (Fake, 'ms', torch.int16),
            (FakeMultiLabel, 'ms', torch.int16),
        )
        for cls, modality, stored in cases:
            ds = cls(tmp_path, modality=modality, split='all')
            indices = [5, 0, 5, len(ds) - 1]
            for decoded in (False, True):
                if decoded:
                    assert ds.decode(2**30)
                fetched = ds.__getitems__(indices)
                assert len(fetched) == len(indices)
                want = [ds[i] for i in indices]
                # Decoded images keep their stored type; their values are exact.
                dtype = stored if decoded else torch.float32
                assert fetched.collated['image'].dtype == dtype
                batch = collate_fetched(fetched)
                assert batch is fetched.collated  # no second copy
                assert batch.keys() == want[0].keys()
                for key in batch:
                    stacked = torch.stack([w[key] for w in want])
                    assert torch.equal(batch[key].to(stacked.dtype), stacked), key
                    for sample, one in zip(fetched, want, strict=True):
                        assert torch.equal(sample[key].to(stacked.dtype), one[key])
                # Any collate function works on it (a sequence of samples).
                assert torch.equal(default_collate(fetched)['image'], batch['image'])
                assert torch.equal(fetched[1:3][1]['image'], batch['image'][2])
                with pytest.raises(IndexError):
                    fetched[len(indices)]

    def test_shared_memory(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        ds = Fake(root, modality='rgb', split='all')
        ds.share_decoded()  # nothing decoded: nothing to share
        assert ds.decode(2**30) and ds.decoded is not None
        before = ds.decoded.clone()
        ds.share_decoded()
        assert ds.decoded.is_shared() and torch.equal(ds.decoded, before)

        def no_room(self: torch.Tensor) -> torch.Tensor:
            raise RuntimeError('unable to write to file </torch_1_2>: No space left')

        other = Fake(root, modality='ms', split='all')
        assert other.decode(2**30)
        monkeypatch.setattr(torch.Tensor, 'share_memory_', no_room)
        with pytest.raises(
            RuntimeError, match=r'decoded MS all split .* MiB.*shm-size'
        ):
            other.share_decoded()
