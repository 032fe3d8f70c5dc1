"""Stage 2: BiLSTM hidden-size reduction, done physically (a smaller DeepSleepNet).

Importance of hidden unit ``k`` of layer ``l``, direction ``d`` (PyTorch gate order i, f, g, o, so
unit ``k`` owns rows ``k, H + k, 2H + k, 3H + k`` of that direction's matrices)::

    score[l, d, k] = sum over the four gates g of  ||weight_ih_l{l}{d}[g*H + k, :]||_1
                                                 + ||weight_hh_l{l}{d}[g*H + k, :]||_1

i.e. the L1 norm of every weight INTO the unit (biases not counted). Each (layer, direction) keeps
its own top-``H'`` set ``K[l, d]`` (ascending index order), and a kept unit is kept everywhere it
appears:

* its four gate rows of ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` (layer ``l``, direction ``d``);
* column ``k`` of that direction's ``weight_hh`` (the recurrent input is the direction's own ``h``);
* layer ``l + 1``'s ``weight_ih`` columns: its input is ``[h_fwd || h_bwd]`` of layer ``l``, so it
  keeps columns ``K[l, fwd]`` and ``H + K[l, bwd]`` (both directions of layer ``l + 1``);
* after the last layer, the BiLSTM output ``[h_fwd || h_bwd]`` is added element-wise to the shortcut
  output, so position ``j`` of the sum is one joint unit: the same index set
  ``J = K[last, fwd] ∪ (H + K[last, bwd])`` selects the shortcut's output rows, the shortcut batch
  norm's entries and the head's input columns. The shortcut's weights do not enter the score
  (the issue ranks by the gates); fine-tuning afterwards adapts the shortcut.

Written by hand: Torch-Pruning's LSTM pruner asserts a single layer, and ``torch.nn.utils.prune``
only masks weights (the model would not shrink).
"""
from __future__ import annotations

import torch

from sleepedge.models import DeepSleepNet

from sleepedge.compress.channels import top_indices

DIRECTIONS = ("", "_reverse")


def hidden_scores(model: DeepSleepNet) -> dict[tuple[int, str], torch.Tensor]:
    """``{(layer, direction_suffix): score per unit}`` as defined in the module docstring."""
    sd, h = model.state_dict(), model.arch.lstm_hidden
    out = {}
    for layer in range(model.arch.lstm_layers):
        for d in DIRECTIONS:
            rows = sd[f"lstm.weight_ih_l{layer}{d}"].abs().sum(1) + sd[f"lstm.weight_hh_l{layer}{d}"].abs().sum(1)
            out[(layer, d)] = rows.reshape(4, h).sum(0)
    return out


def gate_rows(keep: torch.Tensor, hidden: int) -> torch.Tensor:
    """Rows of a ``(4H, ...)`` gate matrix that belong to units ``keep`` (gates i, f, g, o)."""
    return torch.cat([g * hidden + keep for g in range(4)])


def shrink_hidden_to(model: DeepSleepNet, keep: dict[tuple[int, str], torch.Tensor]) -> DeepSleepNet:
    """A new DeepSleepNet keeping hidden units ``keep[(layer, direction)]`` (same size for all)."""
    arch, h = model.arch, model.arch.lstm_hidden
    sizes = {len(k) for k in keep.values()}
    if len(sizes) != 1 or len(keep) != 2 * arch.lstm_layers:
        raise ValueError(f"need one equal-sized index set per (layer, direction); got sizes {sorted(sizes)} for {len(keep)} sets")
    new_arch = arch.with_widths(lstm_hidden=sizes.pop())
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    prev = None  # columns of the previous layer's [fwd || bwd] output that survive
    for layer in range(arch.lstm_layers):
        for d in DIRECTIONS:
            k = torch.as_tensor(keep[(layer, d)], dtype=torch.long)
            rows = gate_rows(k, h)
            p = f"lstm.{{}}_l{layer}{d}"
            w_ih = sd[p.format("weight_ih")].index_select(0, rows)
            sd[p.format("weight_ih")] = w_ih if prev is None else w_ih.index_select(1, prev)
            sd[p.format("weight_hh")] = sd[p.format("weight_hh")].index_select(0, rows).index_select(1, k)
            for b in ("bias_ih", "bias_hh"):
                sd[p.format(b)] = sd[p.format(b)].index_select(0, rows)
        prev = torch.cat([torch.as_tensor(keep[(layer, "")]), h + torch.as_tensor(keep[(layer, "_reverse")])])
    sd["shortcut.weight"] = sd["shortcut.weight"].index_select(0, prev)
    for name in ("weight", "bias", "running_mean", "running_var"):
        sd[f"shortcut_bn.{name}"] = sd[f"shortcut_bn.{name}"].index_select(0, prev)
    sd["head.weight"] = sd["head.weight"].index_select(1, prev)
    new = DeepSleepNet(new_arch)
    new.load_state_dict(sd, strict=True)
    return new.eval()


def shrink_hidden(model: DeepSleepNet, hidden: int) -> DeepSleepNet:
    """Shrink the BiLSTM to ``hidden`` units per direction, keeping the highest-scoring units."""
    if not 1 <= hidden <= model.arch.lstm_hidden:
        raise ValueError(f"cannot shrink lstm_hidden {model.arch.lstm_hidden} to {hidden}")
    keep = {key: top_indices(s, hidden) for key, s in hidden_scores(model).items()}
    return shrink_hidden_to(model, keep)
