{#- dbt's default safe_cast is a plain CAST on DuckDB, which raises on a bad value: use try_cast, which
    yields NULL like BigQuery's SAFE_CAST (what bigquery__safe_cast compiles to). -#}
{% macro duckdb__safe_cast(field, type) -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}
