import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { Roles } from '../../../../libs/auth/index.js';
import { EnvironmentService } from '../../../../libs/workflow/index.js';

@ApiTags('environments')
@ApiBearerAuth()
@Controller('api/v1/environments')
export class EnvironmentsController {
  constructor(private readonly environments: EnvironmentService) {}

  @Get()
  @Roles('ci', 'release-manager', 'security-reviewer', 'auditor')
  list() {
    return this.environments.list();
  }
}
