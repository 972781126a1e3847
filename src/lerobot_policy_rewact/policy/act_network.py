"""LeRobot's ACT network with its transformer encoder as a step of its own.

`RewACTModel` is `lerobot.policies.act.modeling_act.ACT` (same modules, same weights, same
`state_dict` keys) whose forward pass is composed of four public steps, so the reward head can
read the encoder's output explicitly instead of through a hook:

    observe(batch)            -> the observation tokens (robot/env state, camera feature pixels)
    latent(batch)             -> ACT's latent: the VAE's sample in training, zeros when acting
    encode(batch, latent, ..) -> the transformer encoder's output (`Encoded`)
    decode(encoded)           -> the action chunk

`forward` chains them exactly as ACT does (the same random draws in the same order), so the
action loss equals ACT's on the same weights and batch (tests/test_reward_path.py). The
network keeps no state between calls: several threads can share it, and torch.compile sees
plain tensor code.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import einops
import torch
from lerobot.policies.act.modeling_act import ACT
from lerobot.utils.constants import ACTION, OBS_ENV_STATE, OBS_IMAGES, OBS_STATE
from torch import Tensor, nn


@contextmanager
def dropout_off(modules: list[nn.Module], off: bool = True) -> Iterator[None]:
    """Inside the block, `modules` run as in eval mode (no dropout; gradients still flow) when `off`; each
    submodule's own mode is restored after. With `off` false nothing is read or changed (it runs every step)."""
    if not off:
        yield
        return
    modes = [(m, m.training) for module in modules for m in module.modules()]
    for module in modules:
        module.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


@dataclass
class Observed:
    """The encoder's input tokens of one batch, the latent token left out: (tokens, B, dim) each.

    Computing them runs the camera backbone, the costly part; `encode` can reuse them for a second
    encoder pass with another latent.
    """

    tokens: Tensor
    pos_embed: Tensor


@dataclass
class Encoded:
    """The transformer encoder's output, (tokens, B, dim), token 0 at the latent; with its positional
    embedding, (tokens, 1, dim), which the decoder's cross-attention reads too."""

    tokens: Tensor
    pos_embed: Tensor


class RewACTModel(ACT):
    """ACT's network, its forward pass split at the transformer encoder (see the module docstring)."""

    def batch_size(self, batch: dict) -> int:
        return batch[OBS_IMAGES][0].shape[0] if OBS_IMAGES in batch else batch[OBS_ENV_STATE].shape[0]

    def acting_latent(self, batch: dict) -> Tensor:
        """The latent ACT uses when acting (and in eval mode): zeros, (B, latent_dim)."""
        return torch.zeros(
            [self.batch_size(batch), self.config.latent_dim],
            dtype=torch.float32,
            device=batch[OBS_STATE].device,
        )

    def latent(self, batch: dict) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """(latent, mu, log_sigma_x2): in training with the VAE, a sample from the VAE encoder's posterior
        given the recorded action chunk; otherwise the acting latent (zeros) and no distribution."""
        if not (self.config.use_vae and ACTION in batch and self.training):
            return self.acting_latent(batch), None, None
        b = self.batch_size(batch)
        inputs = [einops.repeat(self.vae_encoder_cls_embed.weight, "1 d -> b 1 d", b=b)]
        if self.config.robot_state_feature:
            inputs.append(self.vae_encoder_robot_state_input_proj(batch[OBS_STATE]).unsqueeze(1))
        inputs.append(self.vae_encoder_action_input_proj(batch[ACTION]))
        not_padded = torch.zeros(
            (b, 2 if self.config.robot_state_feature else 1), dtype=torch.bool, device=batch[OBS_STATE].device
        )
        cls_out = self.vae_encoder(
            torch.cat(inputs, dim=1).permute(1, 0, 2),
            pos_embed=self.vae_encoder_pos_enc.clone().detach().permute(1, 0, 2),
            key_padding_mask=torch.cat([not_padded, batch["action_is_pad"]], dim=1),
        )[0]
        params = self.vae_encoder_latent_output_proj(cls_out)
        mu, log_sigma_x2 = params[:, : self.config.latent_dim], params[:, self.config.latent_dim :]
        return mu + log_sigma_x2.div(2).exp() * torch.randn_like(mu), mu, log_sigma_x2

    def observe(self, batch: dict) -> Observed:
        """The observation tokens: robot state, environment state, then every camera's feature pixels."""
        tokens, pos = [], [self.encoder_1d_feature_pos_embed.weight[1:].unsqueeze(1)]  # after the latent's
        if self.config.robot_state_feature:
            tokens.append(self.encoder_robot_state_input_proj(batch[OBS_STATE]).unsqueeze(0))
        if self.config.env_state_feature:
            tokens.append(self.encoder_env_state_input_proj(batch[OBS_ENV_STATE]).unsqueeze(0))
        for img in batch[OBS_IMAGES] if self.config.image_features else []:
            features = self.backbone(img)["feature_map"]
            cam_pos = self.encoder_cam_feat_pos_embed(features).to(dtype=features.dtype)
            tokens.append(
                einops.rearrange(self.encoder_img_feat_input_proj(features), "b c h w -> (h w) b c")
            )
            pos.append(einops.rearrange(cam_pos, "b c h w -> (h w) b c"))
        return Observed(torch.cat(tokens), torch.cat(pos))

    def without_state(self, observed: Observed, drop: Tensor) -> Observed:
        """The same tokens with the robot state token of the samples where `drop` (B,) is True as for a
        state of zeros (the dataset's mean state, after normalisation)."""
        if not self.config.robot_state_feature:
            return observed
        state_dim = self.config.robot_state_feature.shape[0]
        blank = self.encoder_robot_state_input_proj(observed.tokens.new_zeros(1, state_dim))  # (1, dim)
        tokens = observed.tokens.clone()
        tokens[0] = torch.where(drop.unsqueeze(-1), blank, observed.tokens[0])
        return Observed(tokens, observed.pos_embed)

    def encode(self, batch: dict, latent: Tensor | None = None, observed: Observed | None = None) -> Encoded:
        """The transformer encoder's output for `batch`, with `latent` (default: the acting latent, so
        the output is what the policy sees when acting). `observed` reuses already computed tokens."""
        observed = self.observe(batch) if observed is None else observed
        latent = self.acting_latent(batch) if latent is None else latent
        tokens = torch.cat([self.encoder_latent_input_proj(latent).unsqueeze(0), observed.tokens])
        pos_embed = torch.cat([self.encoder_1d_feature_pos_embed.weight[:1].unsqueeze(1), observed.pos_embed])
        return Encoded(self.encoder(tokens, pos_embed=pos_embed), pos_embed)

    def decode(self, encoded: Encoded, query: Tensor | None = None) -> Tensor:
        """ACT's action chunk (B, chunk_size, action_dim) from the encoder's output. ACT's decoder queries
        are zeros; `query` (B, dim) is added to every one of a sample's (advantage conditioning)."""
        b = encoded.tokens.shape[1]
        decoder_in = torch.zeros(
            (self.config.chunk_size, b, self.config.dim_model),
            dtype=encoded.pos_embed.dtype,
            device=encoded.pos_embed.device,
        )
        if query is not None:
            decoder_in = decoder_in + query.to(decoder_in.dtype).unsqueeze(0)
        out = self.decoder(
            decoder_in,
            encoded.tokens,
            encoder_pos_embed=encoded.pos_embed,
            decoder_pos_embed=self.decoder_pos_embed.weight.unsqueeze(1),
        )
        return self.action_head(out.transpose(0, 1))

    def forward(self, batch: dict) -> tuple[Tensor, tuple[Tensor, Tensor] | tuple[None, None]]:
        """ACT's forward: (actions, (mu, log_sigma_x2)), composed of the steps above."""
        if self.config.use_vae and self.training:
            assert ACTION in batch, (
                "actions must be provided when using the variational objective in training mode."
            )
        latent, mu, log_sigma_x2 = self.latent(batch)
        return self.decode(self.encode(batch, latent)), (mu, log_sigma_x2)
