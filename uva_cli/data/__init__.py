"""Eye-tracking datasets behind one reader interface (`fixations.detect_layout` / `read_dataset`):
fixation-record CSV layouts (`fixations`), DHF1K (`dhf1k`), AVS1K and plain train/valid/test
folders (`splits`), with map-based ground truth in `maps`; and the training cache (`cache`)."""
