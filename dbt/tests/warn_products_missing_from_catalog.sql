-- Products sold but not (yet) in the reference data: dim_products covers them as 'unknown', but a
-- growing list means the reference load is behind. A warning, not an error.
{{ config(severity='warn') }}

select product_id
from {{ ref('dim_products') }}
where not is_in_catalog
