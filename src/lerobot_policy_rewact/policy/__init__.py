"""What LeRobot loads: the RewACT config, model, processors, reward head and label sources (which read
the file formats of `label_formats`). Imports neither the tools nor the simulator."""
