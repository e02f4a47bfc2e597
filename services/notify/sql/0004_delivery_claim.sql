-- A delivery is claimed before it is sent, in a statement of its own that
-- commits: attempts counts the claim, and claimed_until keeps other senders
-- off it while this one sends (no transaction stays open across SMTP or
-- HTTP). When a sender dies mid-send the claim runs out and the delivery is
-- sent again, once, with the same delivery id (X-Chuang-Delivery, the
-- e-mail's Message-ID), so a receiver can drop the copy.
ALTER TABLE deliveries ADD COLUMN claimed_until timestamptz;
