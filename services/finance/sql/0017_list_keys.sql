-- The order a list of service providers pages in: the order they
-- registered.
ALTER TABLE service_providers ADD COLUMN seq bigserial UNIQUE;
