"""r1exp's Hydra plugins (Hydra loads plugins only from the hydra_plugins namespace, and imports every
module of it at start-up): the Slurm launcher (`slurm.py`, its config node in `config.py`) and the
`${r1exp.run_name:}` resolver that names run dirs after what ran (`run_name.py`)."""
