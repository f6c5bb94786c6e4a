"""The queue's index holds only the rankings of open items.

Every round ranks every item (the predictions export reads them all), and the serving ranking
also lists each item answered since it was written: the ranked walk passed them one by one,
thousands a call at a million items with fast answers. Rows written before this migration
count as open; the queue still checks the item itself.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('annotation', '0006_retrain_every_label_eval_share_five_percent'),
        ('models_service', '0004_unlogged_rankings'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='ranking',
            name='ranking_queue',
        ),
        migrations.AddField(
            model_name='ranking',
            name='item_open',
            field=models.BooleanField(db_default=True, default=True),
        ),
        migrations.AddIndex(
            model_name='ranking',
            index=models.Index(models.F('version'), models.OrderBy(models.F('score'), descending=True), condition=models.Q(('item_open', True)), name='ranking_queue'),
        ),
    ]
