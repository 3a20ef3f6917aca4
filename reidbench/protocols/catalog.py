"""The registered protocols. Each is data: add a new version rather than edit an old one.

Sources for every choice: ``docs/metrics.md`` (AP variants, junk and no-positive policies, the two
MARS galleries, each with the official code it comes from) and ``docs/datasets.md`` (splits, query
and gallery construction per dataset).
"""

from __future__ import annotations

from reidbench.protocols.record import Evaluation, Procedure, Protocol

__all__ = ["BUILTIN_PROTOCOLS"]

_TEN_SPLITS = tuple(f"split{i}" for i in range(10))

# Default recipe for features when the adapter declares none: every frame, in consecutive clips of
# 8, mean-pooled, Euclidean distance on raw features (torchreid/COSAM convention).
_ALL_FRAMES = Procedure(sampling="all_clips", seq_len=8, pooling="mean", distance="euclidean")
# I2V (TKP): cosine distance; the gallery keeps every frame.
_I2V = Procedure(sampling="all_clips", seq_len=8, pooling="mean", distance="cosine")

_MARS_OFFICIAL = Evaluation(
    dataset="mars", gallery="with_query", drop_pids=(-1,), junk_pids=(-1,), ap="trapezoid",
    no_positive="skip",
)
_DUKEV = Evaluation(dataset="dukev", gallery="dataset", junk_pids=(), ap="noninterp")
_ILIDS = Evaluation(dataset="ilidsvid", splits=_TEN_SPLITS, gallery="dataset", junk_pids=(),
                    ap="noninterp", aggregate="mean_std_over_splits")

BUILTIN_PROTOCOLS: tuple[Protocol, ...] = (
    Protocol(
        "mars/v2v", 1, "MARS video-to-video, official gallery (all 11,310 test tracklets)",
        _MARS_OFFICIAL, _ALL_FRAMES,
        notes="As MARS-evaluation test_mars.m: gallery = all test tracklets, queries included and "
              "self-junked by the same-pid same-camera rule; pid -1 junk (dropped up front, same "
              "numbers); pid 0 distractors are negatives. Headline AP is the official trapezoid "
              "compute_AP.m; every other variant is reported beside it. Every query has a positive "
              "on the real MARS, so the 'skip' policy never triggers there.",
    ),
    Protocol(
        "mars/v2v-torchreid", 1,
        "MARS video-to-video, torchreid-style gallery without the queries (9,330 tracklets)",
        Evaluation(dataset="mars", gallery="without_query", drop_pids=(-1,), junk_pids=(-1,),
                   ap="noninterp", no_positive="skip"),
        _ALL_FRAMES,
        notes="torchreid / COSAM / Video-Person-ReID: the query tracklets are removed from the "
              "gallery, so 140 of the 1,980 queries have no cross-camera positive and are skipped "
              "(counted in n_skipped). Not comparable with mars/v2v@1; never the default.",
    ),
    Protocol("dukev/v2v", 1, "DukeMTMC-VideoReID video-to-video (702 query, 2,636 gallery)",
             _DUKEV, _ALL_FRAMES,
             notes="Query and gallery folders as shipped; same-pid same-camera gallery items "
                   "junk."),
    Protocol("lsvid/v2v", 1,
             "LS-VID video-to-video, gallery = the whole test list (queries included)",
             Evaluation(dataset="lsvid", gallery="dataset", junk_pids=(), ap="noninterp"),
             _ALL_FRAMES,
             notes="Query = the rows of list_seq_test.txt that test/data/info_test.mat's "
                   "'query' names; gallery = every row of list_seq_test.txt, the queries "
                   "included (LS-VID ships no gallery list of its own; some public evaluation "
                   "scripts, in the style of AP3D's test script, append the query features to "
                   "the gallery for 'lsvid' as for 'mars'). Each query's own copy has the "
                   "query's pid and camera and is junked by the same-camera rule, as in the "
                   "official MARS protocol. The other public reading is "
                   "lsvid/v2v-without-query@1; the two are not comparable."),
    Protocol("lsvid/v2v-without-query", 1,
             "LS-VID video-to-video, gallery = the test list minus the queries",
             Evaluation(dataset="lsvid", gallery="without_query", junk_pids=(), ap="noninterp"),
             _ALL_FRAMES,
             notes="SINet's loader (github.com/baist/SINet, utils/data_manager.py, class LSVID) "
                   "builds the gallery from the rows of list_seq_test.txt that info_test.mat's "
                   "'query' does not name, and its evaluation adds the queries back only for "
                   "MARS. A query whose only cross-camera match was another query has no "
                   "positive and is skipped (n_skipped). Not comparable with lsvid/v2v@1; never "
                   "the default."),
    Protocol("ilidsvid/v2v", 1, "iLIDS-VID video-to-video, 10 splits (cam1 query, cam2 gallery)",
             _ILIDS, _ALL_FRAMES,
             notes="Test persons = first 150 columns of ls_set per split. One model per split; "
                   "reported as mean +- std over the 10 splits. Each query has exactly one "
                   "positive, so noninterp AP is the reciprocal rank."),
    Protocol("prid2011/v2v", 1, "PRID-2011 video-to-video, 10 splits (cam_a query, cam_b gallery)",
             Evaluation(dataset="prid2011", splits=_TEN_SPLITS, gallery="dataset", junk_pids=(),
                        ap="noninterp", aggregate="mean_std_over_splits"),
             _ALL_FRAMES,
             notes="splits_prid2011.json (or the official train_test_splits_prid.mat), 178-person "
                   "shipped list. One model per split."),
    Protocol(
        "mars/i2v", 1,
        "MARS image-to-video: first frame of each query tracklet vs 11,310 tracklets",
        Evaluation(dataset="mars", mode="i2v", gallery="with_query", drop_pids=(-1,),
                   junk_pids=(-1,), ap="trapezoid"),
        _I2V,
        notes="TKP (Gu et al. ICCV 2019) and READ: the query image is the first frame (lowest "
              "frame number) of each query tracklet; the gallery is the official video gallery.",
    ),
    Protocol("dukev/i2v", 1, "DukeMTMC-VideoReID image-to-video (first frame of each query)",
             Evaluation(dataset="dukev", mode="i2v", gallery="dataset", junk_pids=(),
                        ap="trapezoid"),
             _I2V),
    Protocol("ilidsvid/i2v", 1, "iLIDS-VID image-to-video, 10 splits (first cam1 frame vs cam2)",
             Evaluation(dataset="ilidsvid", mode="i2v", splits=_TEN_SPLITS, gallery="dataset",
                        junk_pids=(), ap="trapezoid", aggregate="mean_std_over_splits"),
             _I2V),
    Protocol("cross/mars->dukev", 1, "Cross-dataset: trained on MARS, tested on DukeMTMC-VideoReID",
             Evaluation(dataset="dukev", gallery="dataset", junk_pids=(), ap="noninterp",
                        train_dataset="mars"),
             _ALL_FRAMES,
             notes="COSAM supplement Table 2. The target's official test protocol unchanged; the "
                   "checkpoint must declare training on MARS's train split."),
    Protocol("cross/dukev->mars", 1, "Cross-dataset: trained on DukeMTMC-VideoReID, tested on MARS",
             Evaluation(dataset="mars", gallery="with_query", drop_pids=(-1,), junk_pids=(-1,),
                        ap="trapezoid", train_dataset="dukev"),
             _ALL_FRAMES,
             notes="COSAM supplement Table 2; MARS official test protocol."),
)
