"""READ (Shim et al., ECCV 2020) as a reidbench plugin: an image-to-video pairwise scorer."""

from reidbench_baselines.read.adapter import READAdapter
from reidbench_baselines.read.discriminator import ReciprocalAttentionDiscriminator, attend
from reidbench_baselines.read.losses import pair_loss, ratl_feature, ratl_logit
from reidbench_baselines.read.model import RATL_MARGINS, READ, READConfig

__all__ = ["RATL_MARGINS", "READ", "READAdapter", "READConfig",
           "ReciprocalAttentionDiscriminator", "attend", "pair_loss", "ratl_feature", "ratl_logit"]
