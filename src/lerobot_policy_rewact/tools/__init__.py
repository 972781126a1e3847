"""The tools around the policy: the `rewact` command, evaluation, visualisation, detection, plots."""
