"""What LeRobot loads: the RewACT config, model, processors, reward head, label sources and the
label and ground-truth file formats. Imports neither the tools nor the simulator."""
