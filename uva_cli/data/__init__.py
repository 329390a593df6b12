"""Eye-tracking datasets behind one reader interface, layered so nothing imports upwards:

- `base`: Dataset, items (VideoItem, ImageItem, MapItem), LayoutError, selection (select, split_videos);
- `truth`: ground truth from points (fixation and density maps on any grid, centre bias);
- `maps`: ground truth from per-frame map images (DHF1K, AVS1K, split folders);
- readers, one per layout family: `records` (fixation CSVs), `dhf1k`, `splits` (AVS1K, train/valid/test);
- `layouts`: the registry on top (`detect_layout`, `read_dataset`);
- `cache`: the memory-mapped training cache built from any layout.

`fixations` re-exports the names that module held before the split, for existing imports."""
