"""READ (Shim et al., ECCV 2020) as a reidbench plugin: an image-to-video pairwise scorer."""

from baselines.read.adapter import READAdapter
from baselines.read.discriminator import ReciprocalAttentionDiscriminator, attend
from baselines.read.losses import pair_loss, ratl_feature, ratl_logit
from baselines.read.model import RATL_MARGINS, READ, READConfig

__all__ = ["RATL_MARGINS", "READ", "READAdapter", "READConfig",
           "ReciprocalAttentionDiscriminator", "attend", "pair_loss", "ratl_feature", "ratl_logit"]
