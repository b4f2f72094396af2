-- Sellers named by order lines but not (yet) in the reference data: see warn_products_missing_from_catalog.
{{ config(severity='warn') }}

select seller_id
from {{ ref('dim_sellers') }}
where not is_in_catalog
