"""The label files a user writes or a generator produces, apart from the model that reads them: the label
file's schema (`label_file`), what its keypoints mean as a reward curve (`keyframes`), and the simulator's
ground-truth file (`ground_truth_file`). Imports neither the model (only its episode table) nor the tools."""
