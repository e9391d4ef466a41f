"""Synthetic event-log generator for two products (``shop`` and ``app``).

The sample exists so the whole engine (SQL features, RFM, BTYD fits, dedup and
rejection paths) can be exercised on data that *looks like* a real product log
without shipping anyone's real users.  Uniform noise would make every model
look equally good or bad, so the log follows a generative story the models are
built for, plus the kinds of users that break naive pipelines:

* buyers follow the BG/NBD story: per-user purchase rate ``lambda ~ Gamma(r,
  alpha)`` per day, after every repeat purchase the user drops out with
  probability ``p ~ Beta(a, b)``; order values follow the Gamma-Gamma story;
* heavy loyal users (high rate, low dropout), non-buyers who browse a few
  times, users who sign up and never return, bots and test accounts;
* acquisition grows over time with weekly and daily seasonality, and the
  acquisition channel changes conversion, purchase rate and dropout.

Everything is vectorised over a batch of users; the only Python loop runs over
the purchase index (all still-alive users of the batch advance together), so a
batch of 50,000 users (about 1.2 million events) takes about half a second.
Times are float seconds since :data:`START`, rounded to milliseconds at the end.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

DAY = 86_400.0
START = np.datetime64("2022-07-01T00:00:00", "us")
AS_OF = np.datetime64("2024-06-30T00:00:00", "us")
#: Exclusive end of the log: the last events fall on 2024-07-14, two weeks after AS_OF.
LOG_END = np.datetime64("2024-07-15T00:00:00", "us")
HORIZON = float((LOG_END - START) / np.timedelta64(1, "s"))

PRODUCTS = ("shop", "app")
SHOP, APP = 0, 1
KINDS = ("buyer", "non_buyer", "heavy", "never_returned", "bot", "test_account")
BUYER, NON_BUYER, HEAVY, NEVER_RETURNED, BOT, TEST = range(6)

#: Source event names; TYPE_LUT[product, base_code] indexes into this tuple.
EVENT_TYPES = (
    "visit",
    "signup",
    "page_view",
    "add_to_cart",
    "order",
    "refund",
    "app_open",
    "screen_view",
    "purchase",
)
OPEN, SIGNUP, PAGE, CART, ORDER, REFUND = range(6)
TYPE_LUT = np.array([[0, 1, 2, 3, 4, 5], [6, 1, 7, 3, 8, 5]], dtype=np.int8)

CHANNELS = ("organic", "paid_search", "social", "email", "referral", "affiliate", "direct")
DIRECT, EMAIL, NO_CHANNEL = 6, 3, -1
ACQ_SHARE = np.array([0.32, 0.22, 0.18, 0.08, 0.10, 0.10])
#: Cross-sell into the second product mostly happens through owned channels.
CROSS_SHARE = np.array([0.30, 0.10, 0.10, 0.35, 0.10, 0.05])
# Per acquisition channel: never-returned share, buyer share (of the rest),
# purchase-rate multiplier, dropout multiplier.  Social/affiliate traffic is
# cheap and churny; referral/email users convert and stay.
NEVER_SHARE = np.array([0.20, 0.22, 0.30, 0.14, 0.12, 0.28])
BUY_SHARE = np.array([0.62, 0.55, 0.38, 0.70, 0.72, 0.42])
RATE_MULT = np.array([1.00, 0.95, 0.80, 1.20, 1.25, 0.85])
DROP_MULT = np.array([1.00, 1.10, 1.30, 0.85, 0.80, 1.20])

BOT_SHARE, TEST_SHARE, HEAVY_SHARE = 0.010, 0.003, 0.025
MEMBERSHIP_P = (0.55, 0.35, 0.10)  # shop only, app only, both products
DIURNAL = np.array(
    [2, 1.5, 1, 1, 1, 1.5, 2.5, 4, 5, 5.5, 6, 6, 6.5, 6, 6, 6, 6.5, 7, 8, 9, 9, 8, 6, 4],
    dtype=float,
)
WEEKLY = np.array([1.05, 1.0, 0.95, 0.95, 1.0, 1.15, 1.2])  # Monday .. Sunday
GROWTH = np.log(4.0)  # daily acquisitions at the end are ~4x those at the start


@dataclass(frozen=True)
class ProductParams:
    """Behavioural parameters of one product; rates are per day."""

    r: float  # purchase rate lambda ~ Gamma(shape r, rate alpha)
    alpha: float
    a: float  # dropout p ~ Beta(a, b)
    b: float
    buy_scale: float  # multiplies the channel buyer share
    first_in_signup: float  # share of buyers whose first purchase is in the signup session
    session_mult: float  # extra browse sessions per unit of purchase rate
    session_base: float  # browse sessions per day while alive, on top of the above
    nonbuyer_rate: float  # browse sessions per day of non-buyers while interested
    pages_mean: float
    cart_prob: float  # add_to_cart before an order
    abandon_prob: float  # add_to_cart in a browse session
    gap_median: float  # seconds between page views
    heavy_rate: float  # mean purchase rate of heavy users
    heavy_b: float  # heavy users: p ~ Beta(1, heavy_b)


PARAMS = (
    ProductParams(
        r=0.55,
        alpha=120.0,
        a=0.9,
        b=2.6,
        buy_scale=1.0,
        first_in_signup=0.55,
        session_mult=2.0,
        session_base=0.001,
        nonbuyer_rate=0.05,
        pages_mean=3.5,
        cart_prob=0.75,
        abandon_prob=0.08,
        gap_median=45.0,
        heavy_rate=0.04,
        heavy_b=60.0,
    ),
    ProductParams(
        r=0.45,
        alpha=150.0,
        a=0.8,
        b=2.4,
        buy_scale=0.5,
        first_in_signup=0.25,
        session_mult=7.0,
        session_base=0.004,
        nonbuyer_rate=0.06,
        pages_mean=3.5,
        cart_prob=0.0,
        abandon_prob=0.0,
        gap_median=30.0,
        heavy_rate=0.025,
        heavy_b=60.0,
    ),
)
GG_P, GG_Q, GG_GAMMA = 4.0, 4.0, 45.0  # shop order value ~ Gamma(p, nu), nu ~ Gamma(q, gamma)
PRICE_POINTS = np.array([0.99, 4.99, 9.99, 19.99])
TIER_P = np.array([0.50, 0.28, 0.15, 0.07])
REFUND_RATE = 0.04
LAPSE_DAYS = 30.0  # mean time lapsed users keep browsing after their last purchase
NONBUYER_DAYS = 30.0  # mean interest window of non-buyers
MAX_BROWSE = 3_000


def _param(name: str, product: np.ndarray) -> np.ndarray:
    return np.array([getattr(p, name) for p in PARAMS])[product]


@dataclass(frozen=True)
class Accounts:
    """One row per (person, product): persons in both products have two accounts."""

    person: np.ndarray  # index of the person within the batch
    product: np.ndarray
    kind: np.ndarray
    channel: np.ndarray  # acquisition channel
    t0: np.ndarray  # signup time, seconds since START
    lam: np.ndarray  # purchase rate per day
    p: np.ndarray  # dropout probability after each purchase
    nu: np.ndarray  # Gamma-Gamma spend rate (shop); mean order value is GG_P / nu
    tier: np.ndarray  # preferred app price point


@dataclass(frozen=True)
class EventBatch:
    """Events of one batch, sorted by time; per-event columns index the account arrays."""

    t_ms: np.ndarray  # int64 milliseconds since START
    acc: np.ndarray
    etype: np.ndarray  # index into EVENT_TYPES
    amount: np.ndarray  # NaN where not a money event
    channel: np.ndarray  # index into CHANNELS, -1 for null
    account_person: np.ndarray  # person (index within the batch) of each account
    account_product: np.ndarray
    person_product: np.ndarray  # product of the person's first account
    person_kind: np.ndarray  # kind of the person's first account


def _acquisition_times(rng: np.random.Generator, n: int) -> np.ndarray:
    """Signup times with a growth trend, weekly and daily seasonality."""
    days = int(HORIZON // DAY)
    d = np.arange(days)
    start_dow = (int(START.astype("datetime64[D]").astype(np.int64)) + 3) % 7
    w = np.exp(GROWTH * d / days) * WEEKLY[(d + start_dow) % 7]
    day = rng.choice(days, size=n, p=w / w.sum())
    return day * DAY + _time_of_day(rng, n)


def _time_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    hour = rng.choice(24, size=n, p=DIURNAL / DIURNAL.sum())
    return (hour + rng.random(n)) * 3600.0


def _warp(rng: np.random.Generator, t: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """Move times to a diurnal time of day within the same day (Poisson times are flat)."""
    w = np.floor(t / DAY) * DAY + _time_of_day(rng, t.size)
    return np.where((w > floor) & (w < HORIZON), w, t)


def _draw_kinds(rng: np.random.Generator, channel: np.ndarray, product: np.ndarray) -> np.ndarray:
    u = rng.random(channel.size)
    never = NEVER_SHARE[channel]
    heavy = never + HEAVY_SHARE * RATE_MULT[channel]
    buy = heavy + (1 - heavy) * BUY_SHARE[channel] * _param("buy_scale", product)
    return np.select(
        [u < never, u < heavy, u < buy], [NEVER_RETURNED, HEAVY, BUYER], NON_BUYER
    ).astype(np.int8)


def draw_accounts(rng: np.random.Generator, n: int) -> Accounts:
    """Draw ``n`` persons and their one or two product accounts."""
    u = rng.random(n)
    bot_kind = np.where(u < TEST_SHARE, TEST, np.where(u < TEST_SHARE + BOT_SHARE, BOT, -1))
    membership = rng.choice(3, size=n, p=MEMBERSHIP_P)
    membership[bot_kind >= 0] = (rng.random(int((bot_kind >= 0).sum())) < 0.3).astype(int)
    primary = np.where(membership == 2, rng.integers(0, 2, n), membership)
    both = np.flatnonzero(membership == 2)
    t0 = _acquisition_times(rng, n)
    t0_second = t0[both] + (HORIZON - t0[both]) * rng.beta(1.0, 2.5, both.size)
    product = np.concatenate([primary, 1 - primary[both]]).astype(np.int8)
    channel = np.concatenate(
        [rng.choice(6, size=n, p=ACQ_SHARE), rng.choice(6, size=both.size, p=CROSS_SHARE)]
    ).astype(np.int8)
    kind = _draw_kinds(rng, channel, product)
    kind[:n] = np.where(bot_kind >= 0, bot_kind, kind[:n])
    m = product.size
    lam = rng.gamma(_param("r", product), 1.0 / _param("alpha", product)) * RATE_MULT[channel]
    p = np.clip(
        rng.beta(_param("a", product), _param("b", product)) * DROP_MULT[channel], 0.0, 0.95
    )
    heavy = kind == HEAVY
    lam[heavy] = rng.gamma(4.0, _param("heavy_rate", product[heavy]) / 4.0)
    p[heavy] = rng.beta(1.0, _param("heavy_b", product[heavy]))
    return Accounts(
        person=np.concatenate([np.arange(n), both]),
        product=product,
        kind=kind,
        channel=channel,
        t0=np.concatenate([t0, t0_second]),
        lam=np.maximum(lam, 1e-9),
        p=p,
        nu=rng.gamma(GG_Q, 1.0 / GG_GAMMA, m),
        tier=rng.choice(4, size=m, p=TIER_P),
    )


def simulate_purchases(
    rng: np.random.Generator, t1: np.ndarray, lam: np.ndarray, p: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Repeat purchases after first purchases ``t1`` (BG/NBD, exactly as in Fader et al.).

    While alive, gaps are exponential with rate ``lam``; after each repeat purchase the
    user dies with probability ``p``.  Loops over the purchase index, not over users.
    Returns (account index, time) of every repeat purchase, each account's last purchase
    time and whether it died before the end of the log.
    """
    last, died = t1.copy(), np.zeros(t1.size, dtype=bool)
    idx = np.flatnonzero(t1 < HORIZON)
    t = t1[idx]
    out_i, out_t = [], []
    while idx.size:
        t = t + rng.exponential(DAY / lam[idx])
        ok = t < HORIZON
        idx, t = idx[ok], t[ok]
        out_i.append(idx)
        out_t.append(t)
        last[idx] = t
        alive = rng.random(idx.size) >= p[idx]
        died[idx[~alive]] = True
        idx, t = idx[alive], t[alive]
    if not out_i:
        return np.zeros(0, np.int64), np.zeros(0), last, died
    return np.concatenate(out_i), np.concatenate(out_t), last, died


def _sessions(acc: np.ndarray, start: np.ndarray, pages: np.ndarray, **flags: object) -> dict:
    """Build a session table; missing flags default to False/scalars broadcast."""
    n = acc.size
    s = {"acc": acc, "start": start, "pages": pages}
    for key, default in (
        ("anchored", False),
        ("signup", False),
        ("cart", False),
        ("order", False),
        ("gap_median", 40.0),
        ("gap_sigma", 0.9),
        ("chan", NO_CHANNEL),
    ):
        s[key] = np.broadcast_to(np.asarray(flags.get(key, default)), (n,))
    return s


def _pages(rng: np.random.Generator, mean: np.ndarray) -> np.ndarray:
    """1..15 page views per session, negative binomial around ``mean``."""
    p = 2.0 / (2.0 + mean - 1.0)
    return np.minimum(1 + rng.negative_binomial(2, p), 15)


def _visit_channel(rng: np.random.Generator, acq: np.ndarray) -> np.ndarray:
    """Channel of a later visit: mostly the acquisition channel, else direct/email/null."""
    u = rng.random(acq.size)
    out = np.select([u < 0.64, u < 0.84, u < 0.96, u < 0.98], [acq, DIRECT, EMAIL, 0], NO_CHANNEL)
    return out.astype(np.int8)


def _human_sessions(rng: np.random.Generator, a: Accounts) -> list[dict]:
    """Signup, purchase and browse sessions of every non-bot account."""
    human = np.flatnonzero(a.kind < BOT)
    prod = a.product[human]
    gap = _param("gap_median", prod) * rng.lognormal(0.0, 0.25, human.size)
    pages = np.where(
        a.kind[human] == NEVER_RETURNED,
        1 + rng.binomial(2, 0.35, human.size),
        _pages(rng, _param("pages_mean", prod)),
    )
    buyer = np.isin(a.kind[human], (BUYER, HEAVY))
    in_signup = buyer & (rng.random(human.size) < _param("first_in_signup", prod))
    cart = in_signup & (rng.random(human.size) < _param("cart_prob", prod))
    out = [
        _sessions(
            human,
            a.t0[human],
            pages,
            signup=True,
            order=in_signup,
            cart=cart,
            gap_median=gap,
            chan=a.channel[human],
        )
    ]
    b = human[buyer]
    t1 = np.where(in_signup[buyer], a.t0[b], a.t0[b] + 3600.0 + rng.exponential(10 * DAY, b.size))
    ri, rt, last, died = simulate_purchases(rng, t1, a.lam[b], a.p[b])
    rt = _warp(rng, rt, t1[ri])
    delayed = ~in_signup[buyer] & (t1 < HORIZON)
    pacc = np.concatenate([b[delayed], b[ri]])
    pt = np.concatenate([t1[delayed], rt])
    out.append(_order_sessions(rng, a, pacc, pt))
    end = np.where(
        died, np.minimum(last + rng.exponential(LAPSE_DAYS * DAY, b.size), HORIZON), HORIZON
    )
    rate = _param("session_mult", a.product[b]) * a.lam[b] + _param("session_base", a.product[b])
    out.append(_browse_sessions(rng, a, b, end, rate))
    nb = human[a.kind[human] == NON_BUYER]
    end = np.minimum(a.t0[nb] + rng.exponential(NONBUYER_DAYS * DAY, nb.size), HORIZON)
    out.append(_browse_sessions(rng, a, nb, end, _param("nonbuyer_rate", a.product[nb])))
    return out


def _order_sessions(rng: np.random.Generator, a: Accounts, acc: np.ndarray, t: np.ndarray) -> dict:
    prod = a.product[acc]
    mean = _param("pages_mean", prod) - 1.0
    return _sessions(
        acc,
        t,
        _pages(rng, mean),
        anchored=True,
        order=True,
        cart=rng.random(acc.size) < _param("cart_prob", prod),
        gap_median=_param("gap_median", prod) * rng.lognormal(0, 0.25, acc.size),
        chan=_visit_channel(rng, a.channel[acc]),
    )


def _browse_sessions(
    rng: np.random.Generator, a: Accounts, acc: np.ndarray, end: np.ndarray, rate: np.ndarray
) -> dict:
    """Non-purchase sessions: a Poisson process on [signup + 30 min, end)."""
    lo = a.t0[acc] + 1800.0
    span = np.maximum(end - lo, 0.0)
    n = np.minimum(rng.poisson(rate * span / DAY), MAX_BROWSE)
    sacc = np.repeat(acc, n)
    slo = np.repeat(lo, n)
    start = _warp(rng, slo + rng.random(sacc.size) * np.repeat(span, n), slo)
    prod = a.product[sacc]
    return _sessions(
        sacc,
        start,
        _pages(rng, _param("pages_mean", prod)),
        cart=rng.random(sacc.size) < _param("abandon_prob", prod),
        gap_median=_param("gap_median", prod) * rng.lognormal(0, 0.25, sacc.size),
        chan=_visit_channel(rng, a.channel[sacc]),
    )


def _bot_sessions(rng: np.random.Generator, a: Accounts) -> dict:
    """Bots and test accounts: hundreds to thousands of page views within a few days."""
    bots = np.flatnonzero(a.kind >= BOT)
    total = np.clip(rng.lognormal(np.log(150.0), 0.8, bots.size), 80, 5000).astype(np.int64)
    bursts = 1 + rng.poisson(2.0, bots.size)
    window = rng.uniform(1.0, 5.0, bots.size) * DAY
    acc = np.repeat(bots, bursts)
    first = np.zeros(acc.size, dtype=bool)
    first[np.cumsum(bursts) - bursts] = True
    start = np.repeat(a.t0[bots], bursts) + np.where(
        first, 0.0, rng.random(acc.size) * np.repeat(window, bursts)
    )
    pages = np.maximum(np.repeat(total // bursts, bursts), 1)
    chan = np.where(rng.random(acc.size) < 0.5, DIRECT, NO_CHANNEL)
    return _sessions(
        acc,
        start,
        pages,
        signup=first & (a.kind[acc] == TEST),
        gap_median=np.repeat(rng.uniform(0.2, 1.5, bots.size), bursts),
        gap_sigma=0.5,
        chan=chan,
    )


def _expand(rng: np.random.Generator, s: dict) -> tuple[np.ndarray, ...]:
    """Turn sessions into events: open, [signup], pages, [add_to_cart], [order]."""
    n_ev = 1 + s["signup"] + s["pages"] + s["cart"] + s["order"]
    first = np.cumsum(n_ev) - n_ev
    sess = np.repeat(np.arange(n_ev.size), n_ev)
    pos = np.arange(sess.size) - first[sess]
    code = np.full(sess.size, PAGE, dtype=np.int8)
    code[pos == 0] = OPEN
    code[s["signup"][sess] & (pos == 1)] = SIGNUP
    after = pos - s["signup"][sess] - s["pages"][sess]
    cart = s["cart"][sess]
    code[cart & (after == 1)] = CART
    code[s["order"][sess] & (after == 1 + cart)] = ORDER
    gap = rng.lognormal(np.log(s["gap_median"][sess]), s["gap_sigma"][sess])
    gap[first] = 0.0
    csum = np.cumsum(gap)
    offset = csum - csum[first][sess]
    start = np.where(s["anchored"], s["start"] - offset[first + n_ev - 1], s["start"])
    return s["acc"][sess], start[sess] + offset, code, s["chan"][sess]


def _amounts(
    rng: np.random.Generator, a: Accounts, acc: np.ndarray, code: np.ndarray
) -> np.ndarray:
    """Gamma-Gamma order values for the shop, fixed price points for the app."""
    amount = np.full(acc.size, np.nan)
    orders = np.flatnonzero(code == ORDER)
    oacc = acc[orders]
    shop = np.maximum(np.round(rng.gamma(GG_P, 1.0 / a.nu[oacc]), 2), 1.0)
    fav = rng.random(orders.size) < 0.7
    tier = np.where(fav, a.tier[oacc], rng.choice(4, size=orders.size, p=TIER_P))
    amount[orders] = np.where(a.product[oacc] == SHOP, shop, PRICE_POINTS[tier])
    return amount


def _refunds(rng: np.random.Generator, a: Accounts, ev: tuple) -> tuple:
    """A few shop orders get a later refund event carrying the refunded amount."""
    acc, t, code, chan, amount = ev
    sel = np.flatnonzero((code == ORDER) & (a.product[acc] == SHOP))
    sel = sel[rng.random(sel.size) < REFUND_RATE]
    full = rng.random(sel.size) < 0.7
    part = np.round(amount[sel] * rng.uniform(0.2, 0.8, sel.size), 2)
    ramount = np.where(full, amount[sel], part)
    rt = t[sel] + DAY * (1.0 + rng.exponential(8.0, sel.size))
    return (
        np.concatenate([acc, acc[sel]]),
        np.concatenate([t, rt]),
        np.concatenate([code, np.full(sel.size, REFUND, np.int8)]),
        np.concatenate([chan, chan[sel]]),
        np.concatenate([amount, ramount]),
    )


def simulate_batch(rng: np.random.Generator, n_persons: int) -> EventBatch:
    """Simulate ``n_persons`` persons; rows come back sorted by time within the batch."""
    a = draw_accounts(rng, n_persons)
    parts = _human_sessions(rng, a) + [_bot_sessions(rng, a)]
    s = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    acc, t, code, chan = _expand(rng, s)
    ev = _refunds(rng, a, (acc, t, code, chan, _amounts(rng, a, acc, code)))
    acc, t, code, chan, amount = ev
    keep = t < HORIZON
    t_ms = np.round(t[keep] * 1000.0).astype(np.int64)
    order = np.argsort(t_ms, kind="stable")
    acc = acc[keep][order]
    return EventBatch(
        t_ms=t_ms[order],
        acc=acc,
        etype=TYPE_LUT[a.product[acc], code[keep][order]],
        amount=amount[keep][order],
        channel=chan[keep][order],
        account_person=a.person,
        account_product=a.product,
        person_product=a.product[:n_persons],
        person_kind=a.kind[:n_persons],
    )
