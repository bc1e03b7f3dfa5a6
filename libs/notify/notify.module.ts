import { Module } from '@nestjs/common';
import { AppConfig } from '#libs/config/index.js';
import { WorkflowModule } from '#libs/workflow/index.js';
import { NotifyEnqueuer } from './notify-enqueuer.js';
import { NotifyService } from './notify.service.js';
import { SlackApi } from './slack-api.js';
import { SlackInteractionsService } from './slack-interactions.service.js';

/** null when the pipeline has no `slack:`: everything Slack then does nothing. */
const slackApi = {
  provide: SlackApi,
  inject: [AppConfig],
  useFactory: (config: AppConfig): SlackApi | null =>
    config.pipeline.slack && config.notifySecrets.slack ? new SlackApi(config.pipeline.slack, config.notifySecrets.slack.botToken) : null,
};

/** Imported by the API and the worker: both commit promotion changes, so both queue notifications. */
@Module({
  imports: [WorkflowModule],
  providers: [slackApi, NotifyEnqueuer, NotifyService, SlackInteractionsService],
  exports: [NotifyService, SlackInteractionsService],
})
export class NotifyModule {}
