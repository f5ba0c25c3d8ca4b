"""Puts r1exp's config schemas in Hydra's ConfigStore: Hydra imports every module of the
`hydra_plugins` namespace when it starts, before it composes a config."""

from r1exp.schema import store

store()
