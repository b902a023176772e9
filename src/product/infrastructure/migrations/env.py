from common.db.alembic_env import run
from product.infrastructure.tables import metadata

run(metadata)
