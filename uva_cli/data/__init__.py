"""Eye-tracking datasets: readers for fixation layouts (`fixations`) and the training cache (`cache`)."""
