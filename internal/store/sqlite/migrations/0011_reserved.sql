-- Reserved for another part of issue 12, which owns migration 0011; this
-- placeholder keeps the numbering contiguous on the slo branch and is
-- replaced by that migration when the branches merge.
SELECT 1;
