"""Model cards state the data actually given (--data, --images), not fixed text about a dataset."""

from __future__ import annotations

from conftest import make_fixation_dataset

from uva_cli.train.publish import _card

ROW = {"parameters": 1, "file": "m.pt", "bytes": 2, "sha256": "0" * 64, "validation": {"nss": 1.0}}


def card_for(config: dict, val_videos=("clip0",)) -> str:
    config = {"seed": 0, "epochs": 1, "val_step": 1, "image_fraction": 0.25, **config}
    baseline = {"centre": {"nss": 0.5}, "val_videos": list(val_videos)}
    return _card("m", "a model", ROW, config, baseline, {"epoch": 1}, "epoch,loss", 1.0, "uva train ...")


def data_row(card: str) -> str:
    return next(line for line in card.splitlines() if line.startswith("| training data |"))


def test_card_names_the_given_folders_and_what_they_hold(tmp_path):
    vroot, iroot = make_fixation_dataset(tmp_path, videos=3, frames=4, images=2)
    (vroot / "README.md").write_text("\n# My own lab recordings\n\nmore text\n")
    (iroot / "LICENSE").write_text("CC BY 4.0\n")
    row = data_row(card_for({"data": str(vroot), "images": str(iroot)}))
    assert f"`{vroot}`: 3 videos, 12 frames; 2 trained on, 1 held out for validation" in row
    assert 'README `README.md`: "My own lab recordings"' in row
    assert f"`{iroot}`: 2 still images; 0.25 of each batch" in row
    assert 'licence file `LICENSE`: "CC BY 4.0"' in row
    for claim in ("Xu et al", "OSIE", "NUS", "MIT", "research use"):  # the old fixed text
        assert claim not in row


def test_card_without_images_and_with_image_subsets(tmp_path):
    vroot, iroot = make_fixation_dataset(tmp_path / "a", videos=2, frames=3, images=1)
    row = data_row(card_for({"data": str(vroot), "images": None}, val_videos=()))
    assert row == f"| training data | `{vroot}`: 2 videos, 6 frames; 2 trained on, 0 held out for validation |"
    # a folder of image sets (as ../shared/data/images): counted per set, each set's licence named
    parent = tmp_path / "sets"
    parent.mkdir()
    iroot.rename(parent / "first")
    (parent / "first" / "LICENSE.txt").write_text("\nThe MIT License (MIT)\n")
    row = data_row(card_for({"data": str(vroot), "images": str(parent)}, val_videos=()))
    assert f"`{parent}`: 1 still images (1 in `first/`)" in row
    assert 'licence file `first/LICENSE.txt`: "The MIT License (MIT)"' in row
