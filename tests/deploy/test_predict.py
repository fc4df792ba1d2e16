import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from ackd_fake_data import write_geotiff
from conftest import TINY_DATA, quiet_trainer
from PIL import Image

from torchgeo_ackd.callbacks import CSVPredictionWriter
from torchgeo_ackd.cli import main
from torchgeo_ackd.datamodules import SyntheticACKDDataModule
from torchgeo_ackd.datasets import SameShapeBatches, TileDataset, list_tiles
from torchgeo_ackd.deploy import predict_tiles
from torchgeo_ackd.tasks import ACKDTask


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline='') as f:
        return list(csv.DictReader(f))


def _test_predictions(
    bench: dict[str, Path], checkpoint: Path
) -> tuple[list[Path], torch.Tensor]:
    """The student's test-step probabilities on the test split, by file."""
    task = ACKDTask.load_from_checkpoint(checkpoint, map_location='cpu').eval()
    dm = SyntheticACKDDataModule(root=bench['root'], batch_size=64, **TINY_DATA)
    dm.load_state_dict(torch.load(checkpoint, weights_only=True)[type(dm).__name__])
    dm.setup('test')
    files, probs = [], []
    with torch.no_grad():
        for batch in dm.test_dataloader():
            batch = dm.preprocess(batch)
            probs.append(task.predict_step(batch, 0))
            files += [dm.test_dataset.files[i] for i in batch['index'].tolist()]
    return files, torch.cat(probs)


def test_predicted_tiles_match_the_students_test_step(
    bench: dict[str, Path], student_checkpoint: Path, tmp_path: Path
) -> None:
    files, expected = _test_predictions(bench, student_checkpoint)
    output = tmp_path / 'out' / 'predictions.csv'
    main(
        [
            'predict',
            f'--ckpt_path={student_checkpoint}',
            '--tiles',
            *map(str, files),
            f'--output={output}',
            '--accelerator=cpu',
        ]
    )
    rows = _rows(output)
    assert [Path(r['path']) for r in rows] == files
    classes = list(SyntheticACKDDataModule.dataset_class.classes)
    assert [r['predicted'] for r in rows] == [classes[k] for k in expected.argmax(1)]
    got = torch.tensor([[float(r[f'probability_{c}']) for c in classes] for r in rows])
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
    assert all(r['error'] == '' for r in rows)
    assert not any(p.name.endswith('.partial') for p in output.parent.iterdir())


def test_bad_tiles_are_listed_and_the_others_predicted(
    bench: dict[str, Path], student_checkpoint: Path, tmp_path: Path
) -> None:
    tiles = tmp_path / 'tiles'
    tiles.mkdir()
    good = next((bench['root'] / 'RGB' / 'Forest').iterdir())
    shutil.copy(good, tiles / 'good.jpg')
    # Header fine, data cut off: found only when the tile is decoded.
    data = good.read_bytes()
    (tiles / 'truncated.jpg').write_bytes(data[: len(data) * 4 // 5])
    Image.fromarray(np.zeros((24, 24), np.uint8)).save(tiles / 'gray.png')
    (tiles / 'notes.png').write_text('not an image')
    # A larger tile: batched apart, resized like the benchmark's RGB images.
    big = np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)
    Image.fromarray(big).save(tiles / 'big.png')
    dataset = predict_tiles(
        student_checkpoint, tiles, tmp_path / 'p.csv', accelerator='cpu', progress=False
    )
    rows = {Path(r['path']).name: r for r in _rows(tmp_path / 'p.csv')}
    assert set(rows) == {
        'good.jpg',
        'truncated.jpg',
        'gray.png',
        'notes.png',
        'big.png',
    }
    assert rows['good.jpg']['predicted'] and rows['good.jpg']['error'] == ''
    assert rows['big.png']['predicted'] and rows['big.png']['error'] == ''
    assert rows['gray.png']['error'] == '1 bands, expected 3 (RGB)'
    assert rows['notes.png']['error'].startswith('unreadable')
    assert 'cannot read image' in rows['truncated.jpg']['error']
    assert rows['truncated.jpg']['predicted'] == ''
    assert sorted(p.name for p in dataset.problems) == ['gray.png', 'notes.png']


def test_georeferenced_tiles_get_their_bounds_and_crs(
    student_checkpoint: Path, tmp_path: Path
) -> None:
    tif = tmp_path / 'tiles' / 'a.tif'
    write_geotiff(tif, np.full((3, 24, 24), 100, np.uint8))
    Image.fromarray(np.zeros((24, 24, 3), np.uint8)).save(tmp_path / 'tiles' / 'b.png')
    predict_tiles(
        student_checkpoint,
        tmp_path / 'tiles',
        tmp_path / 'p.csv',
        accelerator='cpu',
        progress=False,
    )
    a, b = _rows(tmp_path / 'p.csv')
    # data.py writes EPSG:32632 from (500000, 5000000) at 10 m: 240 m a side.
    assert (a['crs'], a['left'], a['top']) == ('EPSG:32632', '500000', '5000000')
    assert (a['right'], a['bottom']) == ('500240', '4999760')
    assert b['crs'] == '' and b['predicted']


def test_torchgeo_predict_writes_the_test_split(
    bench: dict[str, Path], student_checkpoint: Path, tmp_path: Path
) -> None:
    files, expected = _test_predictions(bench, student_checkpoint)
    task = ACKDTask.load_from_checkpoint(student_checkpoint, map_location='cpu')
    dm = SyntheticACKDDataModule(root=bench['root'], batch_size=4, **TINY_DATA)
    dm.load_state_dict(
        torch.load(student_checkpoint, weights_only=True)[type(dm).__name__]
    )
    output = tmp_path / 'test.csv'
    trainer = quiet_trainer(tmp_path, callbacks=[CSVPredictionWriter(output)])
    trainer.predict(task, dm, return_predictions=False)
    rows = _rows(output)
    assert [Path(r['path']) for r in rows] == files
    classes = list(SyntheticACKDDataModule.dataset_class.classes)
    assert [r['predicted'] for r in rows] == [classes[k] for k in expected.argmax(1)]


def test_list_tiles(tmp_path: Path) -> None:
    (tmp_path / 'a' / 'b').mkdir(parents=True)
    for name in ('a/x.PNG', 'a/b/y.tif', 'a/z.txt'):
        (tmp_path / name).write_bytes(b'')
    assert list_tiles(tmp_path / 'a') == [tmp_path / 'a/b/y.tif', tmp_path / 'a/x.PNG']
    listing = tmp_path / 'a' / 'list.csv'
    listing.write_text('path,note\nx.PNG,first\n/abs/t.jpg,second\n')
    assert list_tiles(listing) == [tmp_path / 'a' / 'x.PNG', Path('/abs/t.jpg')]
    with pytest.raises(FileNotFoundError, match='do not exist'):
        list_tiles(tmp_path / 'missing')
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError, match='no image found'):
        list_tiles(tmp_path / 'empty')
    # A listed file that is missing is a problem of that tile, not of the run.
    dataset = TileDataset([tmp_path / 'gone.png'])
    assert len(dataset) == 0 and dataset.problems == {
        tmp_path / 'gone.png': 'file not found'
    }


def test_same_shape_batches() -> None:
    shapes = [(2, 2), (3, 3), (2, 2), (2, 2), (3, 3)]
    assert list(SameShapeBatches(shapes, 2)) == [[0, 2], [3], [1, 4]]
    assert len(SameShapeBatches(shapes, 2)) == 3
